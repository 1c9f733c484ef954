"""errors: logs the errors the rest of the chain returns, optionally consolidated."""

from kdns.corefile import PluginSpec
from kdns.plugins.errors.config import Consolidate, ErrorsConfig, LogLevel, parse
from kdns.plugins.errors.handler import Errors

SPEC = PluginSpec("errors", parse, once=True, support="served", build=Errors)

__all__ = ["SPEC", "Consolidate", "Errors", "ErrorsConfig", "LogLevel"]
