"""local: answers for localhost and the loopback reverse zones without asking anyone."""

from kdns.corefile import PluginSpec
from kdns.plugins.local.config import LocalConfig, parse

SPEC = PluginSpec("local", parse)

__all__ = ["SPEC", "LocalConfig"]
