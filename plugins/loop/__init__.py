"""loop: detects forwarding loops at startup by querying itself, and stops the server."""

from kdns.corefile import PluginSpec
from kdns.plugins.loop.config import LoopConfig, parse

SPEC = PluginSpec("loop", parse, once=True)

__all__ = ["SPEC", "LoopConfig"]
