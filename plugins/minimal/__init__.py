"""minimal: strips the authority and additional sections from successful answers."""

from kdns.corefile import PluginSpec
from kdns.plugins.minimal.config import MinimalConfig, parse
from kdns.plugins.minimal.handler import Minimal

SPEC = PluginSpec("minimal", parse, support="served", build=Minimal)

__all__ = ["SPEC", "Minimal", "MinimalConfig"]
