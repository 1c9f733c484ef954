"""prometheus: the per-query metric families CoreDNS exports, and their label tables."""

from __future__ import annotations

import platform
from importlib import metadata

from kdns.corefile.mnemonics import QTYPES, RCODES
from kdns.plugins.metrics import DURATION_BUCKETS, REGISTRY, SIZE_BUCKETS

REQUESTS = REGISTRY.counter(
    "coredns_dns_requests_total",
    "Counter of DNS requests made per zone, protocol and family.",
    ("server", "zone", "view", "proto", "family", "type"),
)
DURATION = REGISTRY.histogram(
    "coredns_dns_request_duration_seconds",
    "Histogram of the time (in seconds) each request took per zone.",
    ("server", "zone", "view"),
    DURATION_BUCKETS,
)
REQUEST_SIZE = REGISTRY.histogram(
    "coredns_dns_request_size_bytes",
    "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
    ("server", "zone", "view", "proto"),
    SIZE_BUCKETS,
)
DO_REQUESTS = REGISTRY.counter(
    "coredns_dns_do_requests_total",
    "Counter of DNS requests with DO bit set per zone.",
    ("server", "zone", "view"),
)
RESPONSE_SIZE = REGISTRY.histogram(
    "coredns_dns_response_size_bytes",
    "Size of the returned response in bytes.",
    ("server", "zone", "view", "proto"),
    SIZE_BUCKETS,
)
RESPONSES = REGISTRY.counter(
    "coredns_dns_responses_total",
    "Counter of response status codes.",
    ("server", "zone", "view", "rcode", "plugin"),
)
PLUGIN_ENABLED = REGISTRY.gauge(
    "coredns_plugin_enabled",
    "A metric that indicates whether a plugin is enabled on per server and zone basis.",
    ("server", "zone", "view", "name"),
)
BUILD_INFO = REGISTRY.gauge(
    "coredns_build_info",
    "A metric with a constant '1' value labeled by version, revision, and goversion from "
    "which CoreDNS was built.",
    ("version", "revision", "goversion"),
)

#: The query types CoreDNS counts by name; every other type is counted as `other`.
MONITORED_TYPES = (
    "A", "AAAA", "MX", "SOA", "CNAME", "PTR", "TXT", "NS", "SRV", "DS", "DNSKEY", "RRSIG",
    "NSEC", "NSEC3", "HTTPS", "IXFR", "AXFR", "ANY",
)  # fmt: skip
#: Query type number -> the `type` label.
TYPE_LABELS: dict[int, str] = {QTYPES[name]: name for name in MONITORED_TYPES}
#: Rcode number -> mnemonic, as miekg/dns RcodeToString spells it (16 is BADSIG).
RCODE_NAMES: dict[int, str] = {}
for _name, _code in RCODES.items():
    RCODE_NAMES.setdefault(_code, _name)


def type_label(qtype: int) -> str:
    """Return the `type` label of a query type: its mnemonic if CoreDNS monitors it, else other."""
    return TYPE_LABELS.get(qtype, "other")


def rcode_label(rcode: int) -> str:
    """Return an rcode's mnemonic (`NXDOMAIN`), or `RCODE<n>` for codes without one."""
    name = RCODE_NAMES.get(rcode)
    return name if name is not None else f"RCODE{rcode}"


def build_labels() -> tuple[str, str, str]:
    """Return the coredns_build_info labels: kdns's version, revision and Python version."""
    try:
        version = metadata.version("kdns")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "dev"
    return (version, "", f"python{platform.python_version()}")
