"""bufsize: caps the EDNS0 UDP payload size of requests to avoid IP fragmentation."""

from kdns.corefile import PluginSpec
from kdns.plugins.bufsize.config import BufsizeConfig, parse
from kdns.plugins.bufsize.handler import Bufsize

SPEC = PluginSpec("bufsize", parse, support="served", build=Bufsize)

__all__ = ["SPEC", "Bufsize", "BufsizeConfig"]
