"""proxy: CoreDNS's historic forwarder (removed in CoreDNS 1.5.0), served by kdns as forward."""

from kdns.corefile import PluginSpec
from kdns.plugins.proxy.config import DEPRECATION, HttpHealthCheck, ProxyConfig, parse

SPEC = PluginSpec("proxy", parse)

__all__ = ["DEPRECATION", "SPEC", "HttpHealthCheck", "ProxyConfig"]
