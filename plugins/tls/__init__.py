"""tls: the server certificate of DNS-over-TLS (tls://) and DNS-over-HTTPS (https://) blocks."""

from kdns.corefile import PluginSpec
from kdns.plugins.tls.config import TlsConfig, parse
from kdns.plugins.tls.handler import Tls

SPEC = PluginSpec("tls", parse, once=True, support="served", build=Tls)

__all__ = ["SPEC", "Tls", "TlsConfig"]
