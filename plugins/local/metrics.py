"""local: the metric CoreDNS's local plugin exports, under the same name."""

from __future__ import annotations

from kdns.plugins.metrics import REGISTRY

#: Queries for names below `localhost.` or starting with `localhost.`; no labels, as in CoreDNS.
LOCALHOST = REGISTRY.counter(
    "coredns_local_localhost_requests_total", "Counter of localhost.<domain> requests."
)
