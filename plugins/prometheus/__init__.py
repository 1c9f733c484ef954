"""prometheus: exports metrics on /metrics and counts every query of its server block."""

from kdns.corefile import PluginSpec
from kdns.plugins.prometheus.config import PrometheusConfig, parse
from kdns.plugins.prometheus.handler import Prometheus

SPEC = PluginSpec("prometheus", parse, once=True, support="served", build=Prometheus)

__all__ = ["SPEC", "Prometheus", "PrometheusConfig"]
