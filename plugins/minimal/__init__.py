"""minimal: strips the authority and additional sections from successful answers."""

from kdns.corefile import PluginSpec
from kdns.plugins.minimal.config import MinimalConfig, parse

SPEC = PluginSpec("minimal", parse)

__all__ = ["SPEC", "MinimalConfig"]
