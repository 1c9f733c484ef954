"""chaos: answers CH-class TXT queries for the server's version, authors and hostname."""

from kdns.corefile import PluginSpec
from kdns.plugins.chaos.config import ChaosConfig, parse

SPEC = PluginSpec("chaos", parse)

__all__ = ["SPEC", "ChaosConfig"]
