"""acl: allows, blocks, filters or drops queries by name, type and source address."""

from kdns.corefile import PluginSpec
from kdns.plugins.acl.config import AclConfig, AclPolicy, parse
from kdns.plugins.acl.handler import Acl

SPEC = PluginSpec("acl", parse, support="served", build=Acl)

__all__ = ["SPEC", "Acl", "AclConfig", "AclPolicy"]
