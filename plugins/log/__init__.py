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

SPEC = PluginSpec("log", parse)

__all__ = ["COMBINED_FORMAT", "COMMON_FORMAT", "DEFAULT_FORMAT", "SPEC", "LogClass", "LogConfig"]
