"""hosts: the metrics CoreDNS's hosts plugin exports, under the same names and labels."""

from __future__ import annotations

from kdns.plugins.metrics import REGISTRY

#: Per hosts file: addresses per name plus names per address, file and Corefile together.
ENTRIES = REGISTRY.gauge(
    "coredns_hosts_entries",
    "The combined number of entries in hosts and Corefile.",
    ("hostsfile",),
)
#: The modification time of the hosts file last read.
RELOAD_TIMESTAMP = REGISTRY.gauge(
    "coredns_hosts_reload_timestamp_seconds",
    "The timestamp of the last reload of hosts file.",
)
