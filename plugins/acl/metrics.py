"""acl: the metrics CoreDNS's acl plugin exports, under the same names and labels."""

from __future__ import annotations

from kdns.plugins.metrics import REGISTRY

BLOCKED = REGISTRY.counter(
    "coredns_acl_blocked_requests_total",
    "Counter of DNS requests being blocked.",
    ("server", "zone", "view"),
)
FILTERED = REGISTRY.counter(
    "coredns_acl_filtered_requests_total",
    "Counter of DNS requests being filtered.",
    ("server", "zone", "view"),
)
#: No zone label: a query no rule decides has no zone to count it under (as in CoreDNS).
ALLOWED = REGISTRY.counter(
    "coredns_acl_allowed_requests_total",
    "Counter of DNS requests being allowed.",
    ("server", "view"),
)
DROPPED = REGISTRY.counter(
    "coredns_acl_dropped_requests_total",
    "Counter of DNS requests being dropped.",
    ("server", "zone", "view"),
)
