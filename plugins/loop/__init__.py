"""loop: detects forwarding loops at startup by querying itself, and stops the server."""

from kdns.corefile import PluginSpec
from kdns.plugins.loop.config import LoopConfig, parse
from kdns.plugins.loop.handler import Loop, build

SPEC = PluginSpec("loop", parse, once=True, support="served", build=build)

__all__ = ["SPEC", "Loop", "LoopConfig"]
