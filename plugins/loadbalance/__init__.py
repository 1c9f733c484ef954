"""loadbalance: shuffles (or weights) the order of address records in replies."""

from kdns.corefile import PluginSpec
from kdns.plugins.loadbalance.config import LoadbalanceConfig, Policy, parse
from kdns.plugins.loadbalance.handler import Loadbalance

SPEC = PluginSpec("loadbalance", parse, support="served", build=Loadbalance)

__all__ = ["SPEC", "Loadbalance", "LoadbalanceConfig", "Policy"]
