"""loadbalance: the reorderings, record lists in, new record lists out (never in place).

They follow CoreDNS's loadbalance.go and prefer.go: the same grouping of types and the same
shuffle, with the random source passed in so tests can fix it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import TypeVar

import dnslib

from kdns.corefile.syntax import IPNetwork

A, CNAME, MX, AAAA = 1, 5, 15, 28

#: randbelow(n) returns an integer in [0, n).
RandBelow = Callable[[int], int]
T = TypeVar("T")


def shuffle(records: list[T], randbelow: RandBelow) -> None:
    """Shuffle `records` in place the way CoreDNS does (a swap for two, Fisher-Yates above)."""
    n = len(records)
    if n == 2:
        if randbelow(2) == 0:
            records[0], records[1] = records[1], records[0]
    elif n > 2:
        for j in range(n):
            p = j + randbelow(n - j)
            if p != j:
                records[j], records[p] = records[p], records[j]


def split(
    records: Sequence[dnslib.RR],
) -> tuple[list[dnslib.RR], list[dnslib.RR], list[dnslib.RR], list[dnslib.RR]]:
    """Return the CNAME, address (A/AAAA), MX and other records, each in their order."""
    cname: list[dnslib.RR] = []
    address: list[dnslib.RR] = []
    mx: list[dnslib.RR] = []
    rest: list[dnslib.RR] = []
    for rr in records:
        t = rr.rtype
        if t in (A, AAAA):
            address.append(rr)
        elif t == CNAME:
            cname.append(rr)
        elif t == MX:
            mx.append(rr)
        else:
            rest.append(rr)
    return cname, address, mx, rest


def round_robin(records: list[dnslib.RR], randbelow: RandBelow) -> list[dnslib.RR]:
    """Shuffle one section: CNAMEs first, then other types, then shuffled addresses, then MX."""
    if len(records) <= 1:
        return records
    first = records[0].rtype
    if first in (A, AAAA) and all(rr.rtype == first for rr in records):
        out = list(records)
        shuffle(out, randbelow)
        return out
    cname, address, mx, rest = split(records)
    shuffle(address, randbelow)
    shuffle(mx, randbelow)
    return cname + rest + address + mx


def address_of(rr: dnslib.RR) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return the address of an A or AAAA record (an IPv4-mapped IPv6 one as IPv4)."""
    raw = bytes(rr.rdata.data)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw)
    if len(raw) == 16:
        v6 = ipaddress.IPv6Address(raw)
        return v6.ipv4_mapped or v6
    return None


def _inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address, net: IPNetwork) -> bool:
    return address.version == net.version and address in net


def prefer(records: list[dnslib.RR], nets: Sequence[IPNetwork]) -> list[dnslib.RR]:
    """Move addresses in `nets` first (network by network); CNAMEs, addresses, MX, then the rest."""
    if not records:
        return records
    cname, address, mx, rest = split(records)
    addrs = [address_of(rr) for rr in address]
    seen = [False] * len(address)
    ordered: list[dnslib.RR] = []
    for net in nets:
        for i, rr in enumerate(address):
            ip = addrs[i]
            if not seen[i] and ip is not None and _inside(ip, net):
                ordered.append(rr)
                seen[i] = True
    ordered.extend(rr for i, rr in enumerate(address) if not seen[i])
    return cname + ordered + mx + rest
