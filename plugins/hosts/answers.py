"""hosts: the ready answers of one load of the file plus the inline lines.

Every (name, type) the data can answer exactly is rendered once, when the file is read, so a
query is a dictionary lookup. Only wildcard matches and odd spellings of reverse names are
built per query, since their owner name is the query's.
"""

from __future__ import annotations

import ipaddress

import dnslib

from kdns.plugins.hosts.store import (
    HostsMap,
    address_from_reverse,
    reverse_name,
    wildcard_of,
)

A, AAAA, PTR = 1, 28, 12
IN = 1
_FAMILY = ((4, A), (6, AAAA))


def label(name: str) -> dnslib.DNSLabel:
    """Return the wire label of a name as read from a hosts file (bytes kept as they are)."""
    return dnslib.DNSLabel(name.encode("utf-8", "surrogateescape"))


def _rdata(qtype: int, value: str) -> dnslib.RD:
    # From the packed form: dnslib cannot read IPv6 text with an embedded IPv4 part.
    if qtype == A:
        return dnslib.A(tuple(ipaddress.IPv4Address(value).packed))
    if qtype == AAAA:
        return dnslib.AAAA(tuple(ipaddress.IPv6Address(value).packed))
    return dnslib.PTR(label(value))


class Answers:
    """What one load of the hosts data answers: records per (lower-case name, type)."""

    __slots__ = ("answers", "has_wild", "known", "ptr_names", "ttl", "wild")

    def __init__(self, file: HostsMap, inline: HostsMap, ttl: int) -> None:
        self.ttl = ttl
        #: (qname, qtype) -> the answer records, owner name lower-case, file entries first.
        self.answers: dict[tuple[str, int], tuple[dnslib.RR, ...]] = {}
        names = dict.fromkeys([*file.name4, *file.name6, *inline.name4, *inline.name6])
        for name in names:
            owner = label(name)
            for family, qtype in _FAMILY:
                found = file.lookup(family, name) + inline.lookup(family, name)
                if found:
                    self.answers[(name, qtype)] = tuple(
                        dnslib.RR(owner, qtype, IN, ttl, _rdata(qtype, a)) for a in found
                    )
        #: Names that have an address of either family (the NODATA test).
        self.known = frozenset(names)
        #: (wildcard owner, qtype) -> the record data, file entries first.
        self.wild: dict[tuple[str, int], tuple[dnslib.RD, ...]] = {}
        for family, qtype in _FAMILY:
            f_wild, i_wild = (
                (file.wild4, inline.wild4) if family == 4 else (file.wild6, inline.wild6)
            )
            for pattern in dict.fromkeys([*f_wild, *i_wild]):
                found = f_wild.get(pattern, []) + i_wild.get(pattern, [])
                self.wild[(pattern, qtype)] = tuple(_rdata(qtype, a) for a in found)
        self.has_wild = bool(self.wild)
        #: Address -> the names that have it, for reverse names spelled unusually.
        self.ptr_names: dict[str, tuple[str, ...]] = {}
        for address in dict.fromkeys([*file.addr, *inline.addr]):
            hosts = tuple(file.addr.get(address, []) + inline.addr.get(address, []))
            self.ptr_names[address] = hosts
            reverse = reverse_name(address)
            owner = label(reverse)
            self.answers[(reverse, PTR)] = tuple(
                dnslib.RR(owner, PTR, IN, ttl, _rdata(PTR, h)) for h in hosts
            )

    def wildcard(self, qname: str, qtype: int) -> tuple[dnslib.RR, ...]:
        """Return the records a wildcard gives `qname` (owner set to it), or ()."""
        pattern = wildcard_of(qname)
        data = self.wild.get((pattern, qtype)) if pattern else None
        if not data:
            return ()
        owner = label(qname)
        return tuple(dnslib.RR(owner, qtype, IN, self.ttl, rd) for rd in data)

    def exists(self, qname: str) -> bool:
        """Tell whether `qname` has an address of either family, wildcards included."""
        if qname in self.known:
            return True
        if not self.has_wild:
            return False
        pattern = wildcard_of(qname)
        return bool(pattern) and ((pattern, A) in self.wild or (pattern, AAAA) in self.wild)

    def reverse(self, qname: str) -> tuple[dnslib.RR, ...]:
        """Return PTR records for a reverse name not in its usual spelling, or ()."""
        hosts = self.ptr_names.get(address_from_reverse(qname)) if self.ptr_names else None
        if not hosts:
            return ()
        owner = label(qname)
        return tuple(dnslib.RR(owner, PTR, IN, self.ttl, _rdata(PTR, h)) for h in hosts)
