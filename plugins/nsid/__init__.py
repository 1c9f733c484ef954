"""nsid: adds a name server identifier (RFC 5001) to replies that ask for one."""

from kdns.corefile import PluginSpec
from kdns.plugins.nsid.config import NsidConfig, parse

SPEC = PluginSpec("nsid", parse, once=True)

__all__ = ["SPEC", "NsidConfig"]
