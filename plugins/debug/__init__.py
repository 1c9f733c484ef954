"""debug: turns off panic recovery and turns on debug logging."""

from kdns.corefile import PluginSpec
from kdns.plugins.debug.config import DebugConfig, parse
from kdns.plugins.debug.handler import Debug

SPEC = PluginSpec("debug", parse, support="served", build=Debug)

__all__ = ["SPEC", "Debug", "DebugConfig"]
