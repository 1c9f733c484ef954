"""proxy: CoreDNS's historic forwarder (removed in CoreDNS 1.5.0), served by kdns as forward."""

from kdns.corefile import PluginSpec
from kdns.plugins.proxy.config import DEPRECATION, HttpHealthCheck, ProxyConfig, parse
from kdns.plugins.proxy.handler import Proxy, build

SPEC = PluginSpec("proxy", parse, support="served", build=build)

__all__ = ["DEPRECATION", "SPEC", "HttpHealthCheck", "Proxy", "ProxyConfig"]
