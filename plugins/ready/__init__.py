"""ready: an HTTP endpoint that answers 200 OK on /ready once every plugin is ready."""

from kdns.corefile import PluginSpec
from kdns.plugins.ready.config import Monitor, ReadyConfig, parse

SPEC = PluginSpec("ready", parse, once=True)

__all__ = ["SPEC", "Monitor", "ReadyConfig"]
