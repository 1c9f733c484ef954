"""chaos: answers CH-class TXT queries for the server's version, authors and hostname."""

from kdns.corefile import PluginSpec
from kdns.plugins.chaos.config import ChaosConfig, parse
from kdns.plugins.chaos.handler import Chaos

SPEC = PluginSpec("chaos", parse, support="served", build=Chaos)

__all__ = ["SPEC", "Chaos", "ChaosConfig"]
