"""log: writes one line per query to standard output, in a configurable format."""

from kdns.corefile import PluginSpec
from kdns.plugins.log.config import (
    COMBINED_FORMAT,
    COMMON_FORMAT,
    DEFAULT_FORMAT,
    LogClass,
    LogConfig,
    parse,
)
from kdns.plugins.log.handler import Log

SPEC = PluginSpec("log", parse, support="served", build=Log)

__all__ = [
    "COMBINED_FORMAT",
    "COMMON_FORMAT",
    "DEFAULT_FORMAT",
    "SPEC",
    "Log",
    "LogClass",
    "LogConfig",
]
