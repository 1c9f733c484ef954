"""nsid: adds a name server identifier (RFC 5001) to replies that ask for one."""

from kdns.corefile import PluginSpec
from kdns.plugins.nsid.config import NsidConfig, parse
from kdns.plugins.nsid.handler import Nsid

SPEC = PluginSpec("nsid", parse, once=True, support="served", build=Nsid)

__all__ = ["SPEC", "Nsid", "NsidConfig"]
