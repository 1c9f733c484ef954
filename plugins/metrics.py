"""Process-wide metrics as plain numbers in dictionaries, exported at scrape time.

A query must cost a dictionary update, not a prometheus-client `labels(...).inc()`; the
*prometheus* plugin turns these into exposition format when /metrics is read. Metrics live for
the life of the process, across reloads, as CoreDNS's do.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

#: CoreDNS's request duration buckets: 0.25ms doubling 16 times.
DURATION_BUCKETS = tuple(0.00025 * 2**k for k in range(16))
#: CoreDNS's request and response size buckets, in bytes.
SIZE_BUCKETS = (0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000)


@dataclass(slots=True)
class Metric:
    """One metric family: a name, help, label names and the values per label tuple."""

    name: str
    help: str
    labels: tuple[str, ...]
    kind: Kind
    buckets: tuple[float, ...] = ()
    values: dict[tuple[str, ...], float] = field(default_factory=dict)
    #: For histograms: per label tuple, the count in each bucket (not cumulative) + overflow.
    counts: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    sums: dict[tuple[str, ...], float] = field(default_factory=dict)

    def inc(self, labels: tuple[str, ...] = (), amount: float = 1.0) -> None:
        """Add `amount` to the counter (or gauge) for `labels`."""
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def set(self, labels: tuple[str, ...], value: float) -> None:
        """Set the gauge for `labels`."""
        self.values[labels] = value

    def remove(self, labels: tuple[str, ...]) -> None:
        """Forget the series for `labels`."""
        self.values.pop(labels, None)

    def observe(self, labels: tuple[str, ...], value: float, count: int = 1) -> None:
        """Record `count` observations of `value` in the histogram for `labels`."""
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
            self.sums[labels] = 0.0
        counts[bisect.bisect_left(self.buckets, value)] += count
        self.sums[labels] += value * count

    def get(self, labels: tuple[str, ...] = ()) -> float:
        """Return the current value of a counter or gauge (0 when never set)."""
        return self.values.get(labels, 0.0)


class Registry:
    """The metric families of the process, by name."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        #: Called before the values are read: whoever defers counting (the hot path) adds up.
        self.flushers: list[Callable[[], None]] = []

    def flush(self) -> None:
        """Bring every deferred count into the metrics (call before reading values)."""
        for flush in list(self.flushers):
            flush()

    def _get(
        self,
        name: str,
        help: str,
        labels: Sequence[str],
        kind: Kind,
        buckets: tuple[float, ...] = (),
    ) -> Metric:
        metric = self.metrics.get(name)
        if metric is None:
            metric = self.metrics[name] = Metric(name, help, tuple(labels), kind, buckets)
        elif metric.kind != kind or metric.labels != tuple(labels):
            raise ValueError(f"metric {name} registered twice with different shapes")
        return metric

    def counter(self, name: str, help: str, labels: Sequence[str] = ()) -> Metric:
        """Return the counter `name`, creating it on first use."""
        return self._get(name, help, labels, "counter")

    def gauge(self, name: str, help: str, labels: Sequence[str] = ()) -> Metric:
        """Return the gauge `name`, creating it on first use."""
        return self._get(name, help, labels, "gauge")

    def histogram(
        self, name: str, help: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> Metric:
        """Return the histogram `name`, creating it on first use."""
        return self._get(name, help, labels, "histogram", tuple(buckets))

    def __iter__(self) -> Iterator[Metric]:
        return iter(list(self.metrics.values()))


#: The registry every plugin and the runtime record into.
REGISTRY = Registry()

PANICS = REGISTRY.counter("coredns_panics_total", "A metrics that counts the number of panics.")
