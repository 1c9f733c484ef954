"""debug: turns off panic recovery and turns on debug logging."""

from kdns.corefile import PluginSpec
from kdns.plugins.debug.config import DebugConfig, parse

SPEC = PluginSpec("debug", parse)

__all__ = ["SPEC", "DebugConfig"]
