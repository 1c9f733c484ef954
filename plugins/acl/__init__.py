"""acl: allows, blocks, filters or drops queries by name, type and source address."""

from kdns.corefile import PluginSpec
from kdns.plugins.acl.config import AclConfig, AclPolicy, parse

SPEC = PluginSpec("acl", parse)

__all__ = ["SPEC", "AclConfig", "AclPolicy"]
