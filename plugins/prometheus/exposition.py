"""prometheus: the text exposition of every metric in the registry, rendered at scrape time.

Per-query counting stays a dictionary update (kdns.plugins.metrics); only a scrape walks the
registry and hands prometheus-client metric families to render.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from kdns.plugins.metrics import REGISTRY, Registry
from kdns.plugins.metrics import Metric as Family

#: The text format Prometheus and every scraper read (CoreDNS answers the same one).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def bucket_bound(value: float) -> str:
    """Return a bucket bound as Go's client writes it in `le` (`0.00025`, `100`, `8.192`)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class RegistryCollector(Collector):
    """A prometheus-client collector that yields the families of a kdns metrics registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        """Yield one metric family per registered metric, with its current values."""
        self.registry.flush()
        for family in self.registry:
            if not family.values and not family.counts:
                continue  # no series yet: Go's client exports nothing either
            if family.kind == "histogram":
                yield _histogram(family)
            elif family.kind == "counter":
                counter = CounterMetricFamily(family.name, family.help, labels=family.labels)
                for labels, value in list(family.values.items()):
                    counter.add_metric(labels, value)
                yield counter
            else:
                gauge = GaugeMetricFamily(family.name, family.help, labels=family.labels)
                for labels, value in list(family.values.items()):
                    gauge.add_metric(labels, value)
                yield gauge


def _histogram(family: Family) -> HistogramMetricFamily:
    histogram = HistogramMetricFamily(family.name, family.help, labels=family.labels)
    bounds = [bucket_bound(b) for b in family.buckets]
    for labels, counts in list(family.counts.items()):
        cumulative, buckets = 0, []
        for bound, count in zip(bounds, counts, strict=False):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        buckets.append(("+Inf", float(cumulative + counts[-1])))
        histogram.add_metric(labels, buckets, family.sums.get(labels, 0.0))
    return histogram


def make_registry(registry: Registry = REGISTRY) -> CollectorRegistry:
    """Return a prometheus-client registry holding `registry` and the process collectors."""
    exported = CollectorRegistry(auto_describe=False)
    exported.register(RegistryCollector(registry))
    ProcessCollector(registry=exported)
    PlatformCollector(registry=exported)
    GCCollector(registry=exported)
    return exported


#: What /metrics serves: the process-wide registry plus process, platform and GC metrics.
EXPORTED = make_registry()


def render(exported: CollectorRegistry = EXPORTED) -> bytes:
    """Return the Prometheus text exposition of everything in `exported`."""
    return generate_latest(exported)
