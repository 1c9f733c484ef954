"""bind: chooses the addresses (or interfaces) a server block listens on."""

from kdns.corefile import PluginSpec
from kdns.plugins.bind.config import BindConfig, parse

SPEC = PluginSpec("bind", parse, support="served")

__all__ = ["SPEC", "BindConfig"]
