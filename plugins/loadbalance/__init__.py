"""loadbalance: shuffles (or weights) the order of address records in replies."""

from kdns.corefile import PluginSpec
from kdns.plugins.loadbalance.config import LoadbalanceConfig, Policy, parse

SPEC = PluginSpec("loadbalance", parse)

__all__ = ["SPEC", "LoadbalanceConfig", "Policy"]
