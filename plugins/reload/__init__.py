"""reload: re-reads the Corefile periodically and restarts gracefully when it changed."""

from kdns.corefile import PluginSpec
from kdns.plugins.reload.config import ReloadConfig, parse

SPEC = PluginSpec("reload", parse, support="served")

__all__ = ["SPEC", "ReloadConfig"]
