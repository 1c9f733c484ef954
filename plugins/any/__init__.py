"""any: answers ANY queries with a short HINFO record, as RFC 8482 suggests."""

from kdns.corefile import PluginSpec
from kdns.plugins.any.config import AnyConfig, parse

SPEC = PluginSpec("any", parse)

__all__ = ["SPEC", "AnyConfig"]
