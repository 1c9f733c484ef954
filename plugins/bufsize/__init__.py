"""bufsize: caps the EDNS0 UDP payload size of requests to avoid IP fragmentation."""

from kdns.corefile import PluginSpec
from kdns.plugins.bufsize.config import BufsizeConfig, parse

SPEC = PluginSpec("bufsize", parse)

__all__ = ["SPEC", "BufsizeConfig"]
