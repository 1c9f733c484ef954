"""dns64: synthesises AAAA records from A records for IPv6-only clients behind NAT64."""

from kdns.corefile import PluginSpec
from kdns.plugins.dns64.config import DEFAULT_PREFIX, Dns64Config, parse
from kdns.plugins.dns64.handler import Dns64

SPEC = PluginSpec("dns64", parse, support="served", build=Dns64)

__all__ = ["DEFAULT_PREFIX", "SPEC", "Dns64", "Dns64Config"]
