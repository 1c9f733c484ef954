"""forward: CoreDNS's metric names and labels for forwarding (shared with the served proxy)."""

from __future__ import annotations

from kdns.corefile.mnemonics import RCODES
from kdns.plugins.metrics import DURATION_BUCKETS, REGISTRY

REQUEST_DURATION = REGISTRY.histogram(
    "coredns_proxy_request_duration_seconds",
    "Histogram of the time each request took.",
    ("proxy_name", "to", "rcode"),
    DURATION_BUCKETS,
)
HEALTHCHECK_FAILURES = REGISTRY.counter(
    "coredns_proxy_healthcheck_failures_total",
    "Counter of the number of failed healthchecks.",
    ("proxy_name", "to"),
)
CONN_CACHE_HITS = REGISTRY.counter(
    "coredns_proxy_conn_cache_hits_total",
    "Counter of connection cache hits per upstream and protocol.",
    ("proxy_name", "to", "proto"),
)
CONN_CACHE_MISSES = REGISTRY.counter(
    "coredns_proxy_conn_cache_misses_total",
    "Counter of connection cache misses per upstream and protocol.",
    ("proxy_name", "to", "proto"),
)
HEALTHCHECK_BROKEN = REGISTRY.counter(
    "coredns_forward_healthcheck_broken_total",
    "Counter of the number of complete failures of the healthchecks.",
)
MAX_CONCURRENT_REJECTS = REGISTRY.counter(
    "coredns_forward_max_concurrent_rejects_total",
    "Counter of the number of queries rejected because the concurrent queries were at maximum.",
)

#: Rcode mnemonics as the `rcode` label shows them (the number when CoreDNS has no name).
RCODE_NAMES: dict[int, str] = {}
for _name, _code in RCODES.items():
    RCODE_NAMES.setdefault(_code, _name)


def rcode_name(code: int) -> str:
    """Return the label for `code`: its mnemonic, or the number as text."""
    return RCODE_NAMES.get(code) or str(code)
