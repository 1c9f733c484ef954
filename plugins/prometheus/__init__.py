"""prometheus: exports metrics on /metrics and counts every query of its server block."""

from kdns.corefile import PluginSpec
from kdns.plugins.prometheus.config import PrometheusConfig, parse

SPEC = PluginSpec("prometheus", parse, once=True)

__all__ = ["SPEC", "PrometheusConfig"]
