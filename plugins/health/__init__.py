"""health: an HTTP endpoint that answers 200 OK on /health while the process runs."""

from kdns.corefile import PluginSpec
from kdns.plugins.health.config import HealthConfig, parse

SPEC = PluginSpec("health", parse)

__all__ = ["SPEC", "HealthConfig"]
