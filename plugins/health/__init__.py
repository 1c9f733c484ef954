"""health: an HTTP endpoint that answers 200 OK on /health while the process runs."""

from kdns.corefile import PluginSpec
from kdns.plugins.health.config import HealthConfig, parse
from kdns.plugins.health.handler import Health

SPEC = PluginSpec("health", parse, support="served", build=Health)

__all__ = ["SPEC", "Health", "HealthConfig"]
