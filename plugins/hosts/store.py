"""hosts: reading the hosts format into lookup maps, as CoreDNS's hostsfile.go does.

The maps are keyed the way CoreDNS keys them: names lower-case and fully qualified, addresses
in Go's canonical text (an IPv4-mapped IPv6 address counts as IPv4, an IPv6 zone index is
dropped). Names outside the plugin's zones are left out when the file is read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kdns.corefile.syntax import in_zones
from kdns.plugins.hosts.config import HostsEntry

#: A field longer than this can never be a usable name or address (CoreDNS drops it too).
MAX_FIELD = 1024
IP4_ARPA = ".in-addr.arpa."
IP6_ARPA = ".ip6.arpa."
#: Go's hosts parser splits fields on ASCII white space only.
_FIELDS = re.compile(r"[ \t\n\v\f\r]+")


def parse_ip(text: str) -> tuple[int, str] | None:
    """Read an address as Go's net.ParseIP does; return (4 or 6, canonical text) or None.

    An IPv6 zone index (`fe80::1%eth0`) is discarded first, as the hosts plugin does.
    """
    text = text.split("%", 1)[0]
    if not text:
        return None
    try:
        if ":" not in text:
            return 4, str(ipaddress.IPv4Address(text))
        v6 = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    mapped = v6.ipv4_mapped
    if mapped is not None:
        return 4, str(mapped)
    return 6, str(v6)


def normalize(name: str) -> str:
    """Return `name` lower-case and fully qualified (CoreDNS's plugin.Name.Normalize)."""
    name = name.lower()
    return name if name.endswith(".") else name + "."


def valid_name(name: str) -> bool:
    """Tell whether a fully qualified name can go on the wire (labels of 1 to 63 octets)."""
    if name == ".":
        return True
    raw = name.encode("utf-8", "surrogateescape")
    return len(raw) <= 255 and all(0 < len(label) <= 63 for label in raw[:-1].split(b"."))


def wildcard_of(name: str) -> str:
    """Return `name` with its first label replaced by `*`, or "" for the root or a single label."""
    dot = name.find(".")
    if dot < 0 or dot >= len(name) - 1:
        return ""
    return "*" + name[dot:]


def reverse_name(address: str) -> str:
    """Return the in-addr.arpa or ip6.arpa name of a canonical address text."""
    ip = ipaddress.ip_address(address)
    return ip.reverse_pointer.lower() + "."


def address_from_reverse(name: str) -> str:
    """Return the canonical address a reverse name stands for, or "" (dnsutil's extraction).

    Quirks kept from CoreDNS: labels are regrouped by four for ip6.arpa, so extra leading
    labels are ignored, and an IPv4-mapped IPv6 reverse name yields the IPv4 address.
    """
    if name.endswith(IP4_ARPA):
        labels = name[: -len(IP4_ARPA)].split(".")
        labels.reverse()
        found = parse_ip(".".join(labels)) if "%" not in name else None
        return found[1] if found is not None and found[0] == 4 else ""
    if name.endswith(IP6_ARPA):
        labels = name[: -len(IP6_ARPA)].split(".")
        labels.reverse()
        groups = ["".join(labels[i : i + 4]) for i in range(0, len(labels) - len(labels) % 4, 4)]
        found = parse_ip(":".join(groups)) if "%" not in name else None
        return found[1] if found is not None else ""
    return ""


@dataclass(slots=True)
class HostsMap:
    """One source's entries (the file, or the Corefile's inline lines): names and addresses."""

    name4: dict[str, list[str]] = field(default_factory=dict)
    name6: dict[str, list[str]] = field(default_factory=dict)
    wild4: dict[str, list[str]] = field(default_factory=dict)
    wild6: dict[str, list[str]] = field(default_factory=dict)
    #: Address -> the names that have it, for the automatic PTR records.
    addr: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        """Count addresses per name and names per address, as coredns_hosts_entries does."""
        maps = (self.name4, self.name6, self.wild4, self.wild6, self.addr)
        return sum(len(values) for m in maps for values in m.values())

    def add(self, family: int, address: str, name: str, reverse: bool) -> None:
        """Add one (address, name) pair; wildcard owners get no PTR."""
        if name.startswith("*."):
            table = self.wild4 if family == 4 else self.wild6
            table.setdefault(name, []).append(address)
            return
        table = self.name4 if family == 4 else self.name6
        table.setdefault(name, []).append(address)
        if reverse:
            self.addr.setdefault(address, []).append(name)

    def lookup(self, family: int, name: str) -> list[str]:
        """Return the addresses of `name`: its own, else those of the matching wildcard."""
        exact, wild = (self.name4, self.wild4) if family == 4 else (self.name6, self.wild6)
        found = exact.get(name)
        if found is not None:
            return found
        if wild:
            pattern = wildcard_of(name)
            if pattern:
                return wild.get(pattern, [])
        return []


def _add_line(hmap: HostsMap, fields: list[str], zones: tuple[str, ...], reverse: bool) -> None:
    if len(fields) < 2 or len(fields[0]) > MAX_FIELD:
        return
    parsed = parse_ip(fields[0])
    if parsed is None:
        return
    family, address = parsed
    for word in fields[1:]:
        if len(word) > MAX_FIELD:
            continue
        name = normalize(word)
        if valid_name(name) and in_zones(name, zones):
            hmap.add(family, address, name, reverse)


def parse_hosts(text: str, zones: tuple[str, ...], reverse: bool = True) -> HostsMap:
    """Read hosts(5) text: `#` starts a comment, the first field is the address, then names."""
    hmap = HostsMap()
    for line in text.split("\n"):
        fields = _FIELDS.split(line.split("#", 1)[0].strip(" \t\n\v\f\r"))
        _add_line(hmap, fields, zones, reverse)
    return hmap


def inline_map(entries: Iterable[HostsEntry], zones: tuple[str, ...], reverse: bool) -> HostsMap:
    """Build the map of the Corefile's inline lines (CoreDNS keeps it apart from the file's)."""
    hmap = HostsMap()
    for entry in entries:
        _add_line(hmap, [entry.address, *entry.names], zones, reverse)
    return hmap
