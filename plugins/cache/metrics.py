"""cache: the metrics CoreDNS's cache plugin exports, under the same names, help and labels."""

from __future__ import annotations

from kdns.plugins.metrics import REGISTRY

_BY_TYPE = ("server", "type", "zones", "view")
_PLAIN = ("server", "zones", "view")

ENTRIES = REGISTRY.gauge("coredns_cache_entries", "The number of elements in the cache.", _BY_TYPE)
REQUESTS = REGISTRY.counter("coredns_cache_requests_total", "The count of cache requests.", _PLAIN)
HITS = REGISTRY.counter("coredns_cache_hits_total", "The count of cache hits.", _BY_TYPE)
MISSES = REGISTRY.counter(
    "coredns_cache_misses_total",
    "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.",
    _PLAIN,
)
PREFETCHES = REGISTRY.counter(
    "coredns_cache_prefetch_total",
    "The number of times the cache has prefetched a cached item.",
    _PLAIN,
)
DROPS = REGISTRY.counter(
    "coredns_cache_drops_total",
    "The number responses that are not cached, because the reply is malformed.",
    _PLAIN,
)
SERVED_STALE = REGISTRY.counter(
    "coredns_cache_served_stale_total",
    "The number of requests served from stale cache entries.",
    _PLAIN,
)
EVICTIONS = REGISTRY.counter(
    "coredns_cache_evictions_total", "The count of cache evictions.", _BY_TYPE
)
