"""tls: the server certificate of DNS-over-TLS, DNS-over-gRPC, DoH and DoQ server blocks."""

from kdns.corefile import PluginSpec
from kdns.plugins.tls.config import TlsConfig, parse

SPEC = PluginSpec("tls", parse)

__all__ = ["SPEC", "TlsConfig"]
