"""local: answers for localhost and the loopback reverse zones without asking anyone."""

from kdns.corefile import PluginSpec
from kdns.plugins.local.config import LocalConfig, parse
from kdns.plugins.local.handler import Local

SPEC = PluginSpec("local", parse, support="served", build=Local)

__all__ = ["SPEC", "Local", "LocalConfig"]
