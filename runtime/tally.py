"""Adding up the workers' metrics in the supervisor's registry, for its /metrics.

Each worker sends snapshots of its whole registry (worker.py). Counters and histograms grow by
what a worker counted since its previous snapshot, so a total never goes down when a worker
is restarted (its replacement starts from zero, the counts of the one before are kept).
Gauges show, per series, the largest value over the running workers; gauges named `*_info`
(build, configuration hash) are left to the supervisor, which runs the same configuration.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from kdns.plugins.metrics import REGISTRY, Metric, Registry

#: The family whose total is also counted per worker (the prometheus plugin's).
REQUESTS = "coredns_dns_requests_total"

Labels = tuple[str, ...]
#: One family of a snapshot: name, help, labels, kind, buckets, values, counts, sums.
Family = tuple[str, str, Labels, str, tuple[float, ...], Any, Any, Any]


class Tally:
    """The workers' metrics added into a registry, snapshot by snapshot."""

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry
        #: Per worker: the last values merged, by family: values, histogram counts, sums.
        self.last: dict[Hashable, dict[str, tuple[Any, Any, Any]]] = {}
        self.gauges: dict[Hashable, dict[str, dict[Labels, float]]] = {}
        self._series: dict[str, set[Labels]] = {}
        self.per_worker = registry.counter(
            "kdns_worker_requests_total",
            "DNS requests counted by each worker process.",
            ("worker",),
        )

    def add(self, worker: Hashable, slot: int, families: list[Family]) -> None:
        """Add what `worker` (in `slot`) counted since its last snapshot; keep its gauges."""
        last = self.last.setdefault(worker, {})
        gauges = self.gauges.setdefault(worker, {})
        served = 0.0
        for name, help_, labels, kind, buckets, values, counts, sums in families:
            if kind == "gauge" and name.endswith("_info"):
                continue
            try:
                family = self._family(name, help_, labels, kind, buckets)
            except ValueError:
                continue  # a shape this process knows otherwise: not comparable
            old_values, old_counts, old_sums = last.get(name, ({}, {}, {}))
            last[name] = (values, counts, sums)
            if kind == "gauge":
                gauges[name] = values
                continue
            for key, value in values.items():
                family.inc(key, max(0.0, value - old_values.get(key, 0.0)))
            if name == REQUESTS:
                served += sum(values.values()) - sum(old_values.values())
            for key, bins in counts.items():
                before = old_counts.get(key) or [0] * len(bins)
                into = family.counts.setdefault(key, [0] * len(bins))
                family.sums[key] = family.sums.get(key, 0.0) + sums[key] - old_sums.get(key, 0.0)
                if len(into) == len(bins) == len(before):
                    for i, count in enumerate(bins):
                        into[i] += count - before[i]
        if served > 0:
            self.per_worker.inc((str(slot),), served)
        self._gauges()

    def forget(self, worker: Hashable) -> None:
        """Drop a worker that exited: its counts stay, its gauges go."""
        self.last.pop(worker, None)
        self.gauges.pop(worker, None)
        self._gauges()

    def _family(
        self, name: str, help_: str, labels: Labels, kind: str, buckets: tuple[float, ...]
    ) -> Metric:
        if kind == "histogram":
            return self.registry.histogram(name, help_, labels, buckets)
        if kind == "counter":
            return self.registry.counter(name, help_, labels)
        return self.registry.gauge(name, help_, labels)

    def _gauges(self) -> None:
        """Show each worker gauge series at its largest value over the running workers."""
        merged: dict[str, dict[Labels, float]] = {}
        for gauges in self.gauges.values():
            for name, values in gauges.items():
                into = merged.setdefault(name, {})
                for key, value in values.items():
                    into[key] = max(value, into.get(key, value))
        for name, keys in self._series.items():
            family = self.registry.metrics.get(name)
            for key in keys - merged.get(name, {}).keys():
                if family is not None:
                    family.remove(key)
        for name, values in merged.items():
            family = self.registry.metrics[name]
            for key, value in values.items():
                family.set(key, value)
        self._series = {name: set(values) for name, values in merged.items()}
