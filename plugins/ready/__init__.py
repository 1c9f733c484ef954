"""ready: an HTTP endpoint that answers 200 OK on /ready once every plugin is ready."""

from kdns.corefile import PluginSpec
from kdns.plugins.ready.config import Monitor, ReadyConfig, parse
from kdns.plugins.ready.handler import Ready

SPEC = PluginSpec("ready", parse, once=True, support="served", build=Ready)

__all__ = ["SPEC", "Monitor", "Ready", "ReadyConfig"]
