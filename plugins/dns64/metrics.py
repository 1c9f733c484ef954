"""dns64: the metric CoreDNS's dns64 plugin exports, under the same name and label."""

from __future__ import annotations

from kdns.plugins.metrics import REGISTRY

#: AAAA answers synthesised, per listener.
TRANSLATED = REGISTRY.counter(
    "coredns_dns64_requests_translated_total",
    "Counter of DNS requests translated by dns64.",
    ("server",),
)
