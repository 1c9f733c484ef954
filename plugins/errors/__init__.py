"""errors: logs the errors the rest of the chain returns, optionally consolidated."""

from kdns.corefile import PluginSpec
from kdns.plugins.errors.config import Consolidate, ErrorsConfig, LogLevel, parse

SPEC = PluginSpec("errors", parse, once=True)

__all__ = ["SPEC", "Consolidate", "ErrorsConfig", "LogLevel"]
