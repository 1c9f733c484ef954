"""template: the metrics CoreDNS's template plugin exports, under the same names and labels."""

from __future__ import annotations

from kdns.plugins.metrics import REGISTRY

_LABELS = ("server", "zone", "view", "class", "type")

#: Queries a template matched (and answered, unless executing it failed).
MATCHES = REGISTRY.counter(
    "coredns_template_matches_total", "Counter of template regex matches.", _LABELS
)
#: Templates that failed to execute, per section and template text.
TEMPLATE_FAILURES = REGISTRY.counter(
    "coredns_template_template_failures_total",
    "Counter of go template failures.",
    (*_LABELS, "section", "template"),
)
#: Templates whose output is not a valid resource record.
RR_FAILURES = REGISTRY.counter(
    "coredns_template_rr_failures_total",
    "Counter of mis-templated RRs.",
    (*_LABELS, "section", "template"),
)
