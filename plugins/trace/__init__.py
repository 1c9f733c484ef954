"""trace: sends a tracing span for each query to Zipkin or Datadog."""

from kdns.corefile import PluginSpec
from kdns.plugins.trace.config import TraceConfig, parse

SPEC = PluginSpec("trace", parse)

__all__ = ["SPEC", "TraceConfig"]
