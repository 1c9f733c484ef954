"""any: answers ANY queries with a short HINFO record, as RFC 8482 suggests."""

from kdns.corefile import PluginSpec
from kdns.plugins.any.config import AnyConfig, parse
from kdns.plugins.any.handler import Any

SPEC = PluginSpec("any", parse, support="served", build=Any)

__all__ = ["SPEC", "Any", "AnyConfig"]
