"""file: one loaded zone and its lookup, following CoreDNS's file plugin (lookup.go).

Names are tuples of lower-cased labels (`(b"www", b"example", b"org")`), so escapes and case
never make two spellings of a name differ. The lookup returns sections and a result kind; the
handler turns them into a reply and resolves CNAME targets outside the zone.

CoreDNS's rules, kept here: the apex SOA or NS asked for gets the apex NS in authority (SOA)
or the addresses of in-zone name servers in additional (NS); an answer carries the apex NS
in authority, and the addresses of in-zone MX and SRV targets in additional; NODATA and
NXDOMAIN carry the SOA; an empty non-terminal is NODATA; a name at or below a delegation
gets a referral (the NS in authority, in-bailiwick glue in additional, AA cleared), except
DS at the cut, which the parent answers; a DNAME above the name synthesises a CNAME; a CNAME
is followed inside the zone (at most 8 links) and the chain is returned with the target's
records; wildcards match per RFC 4592 (the closest encloser's `*` child), NODATA included.
With DO, RRSIGs go with the RRsets they cover and NSEC records deny NODATA and NXDOMAIN.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import dnslib
import structlog

from kdns.plugins.file.rdata import DNAME, lower

log = structlog.get_logger("plugin/file")

Name = tuple[bytes, ...]
A, NS, CNAME, SOA, MX, AAAA, SRV, DNAME_T, DS, RRSIG, NSEC = 1, 2, 5, 6, 15, 28, 33, 39, 43, 46, 47
#: The longest CNAME chain followed inside a zone (CoreDNS's maxChain).
MAX_CHAIN = 8

Kind = Literal["answer", "nodata", "nxdomain", "delegation"]


@dataclass(slots=True)
class Result:
    """What a lookup found: the sections, the kind, and a CNAME target left to resolve."""

    kind: Kind
    answer: list[dnslib.RR] = field(default_factory=list)
    ns: list[dnslib.RR] = field(default_factory=list)
    extra: list[dnslib.RR] = field(default_factory=list)
    #: A CNAME target outside the zone, to look up through the server (CoreDNS's upstream).
    external: Name | None = None


def name_of(label: dnslib.DNSLabel) -> Name:
    """Return the lower-cased label tuple of a dnslib name."""
    return tuple(part.lower() for part in label.label)


def within(name: Name, origin: Name) -> bool:
    """Tell whether `name` is `origin` or below it (the root holds every name)."""
    return name[len(name) - len(origin) :] == origin


def _canonical(name: Name) -> Name:
    """Return the sort key of RFC 4034's canonical order (labels from the right)."""
    return tuple(reversed(name))


def _normalize(rr: dnslib.RR) -> None:
    """Lower-case the owner and the names CoreDNS lower-cases in rdata."""
    rr.rname = dnslib.DNSLabel(name_of(rr.rname))
    rd = rr.rdata
    if rr.rtype in (NS, CNAME, MX, DNAME_T) and isinstance(rd, dnslib.CNAME | dnslib.MX):
        rd.label = lower(rd.label)
    elif rr.rtype == SRV and isinstance(rd, dnslib.SRV):
        rd.target = lower(rd.target)
    elif rr.rtype == SOA and isinstance(rd, dnslib.SOA):
        rd.mname, rd.rname = lower(rd.mname), lower(rd.rname)


class Zone:
    """The records of one zone, indexed by name and type, with CoreDNS's lookup."""

    def __init__(self, origin: Name, records: Iterable[dnslib.RR], path: str = "") -> None:
        self.origin = origin
        self.nodes: dict[Name, dict[int, list[dnslib.RR]]] = {}
        skipped = 0
        for rr in records:
            _normalize(rr)
            owner = name_of(rr.rname)
            if not self.contains(owner):
                skipped += 1
                continue
            self.nodes.setdefault(owner, {}).setdefault(rr.rtype, []).append(rr)
        if skipped:
            log.warning(f"{path}: {skipped} record(s) outside zone {self.text} dropped")
        apex = self.nodes.get(origin, {})
        soas = apex.get(SOA)
        if not soas:
            raise ValueError(f"file {path!r} has no SOA record for origin {self.text}")
        self.soa: dnslib.RR = soas[0]
        #: Every name that exists: owners and the empty non-terminals between them and the apex.
        self.names: set[Name] = set()
        for owner in self.nodes:
            for cut in range(len(owner) - len(origin) + 1):
                if owner[cut:] in self.names:
                    break
                self.names.add(owner[cut:])
        self.sorted: list[Name] = sorted(_canonical(n) for n in self.nodes)

    @property
    def count(self) -> int:
        """Return the number of records in the zone."""
        return sum(len(rrs) for node in self.nodes.values() for rrs in node.values())

    @property
    def serial(self) -> int:
        """Return the SOA serial."""
        return int(self.soa.rdata.times[0])

    @property
    def text(self) -> str:
        """Return the origin as text (`example.org.`)."""
        return str(dnslib.DNSLabel(self.origin))

    def contains(self, name: Name) -> bool:
        """Tell whether `name` is at or below the origin."""
        return within(name, self.origin)

    # -- record helpers ------------------------------------------------------------------

    def _sigs(self, name: Name, covered: int) -> list[dnslib.RR]:
        sigs = self.nodes.get(name, {}).get(RRSIG, ())
        return [rr for rr in sigs if rr.rdata.covered == covered]

    def _rrset(self, name: Name, rtype: int, do: bool) -> list[dnslib.RR]:
        rrs = list(self.nodes.get(name, {}).get(rtype, ()))
        if do and rrs:
            rrs += self._sigs(name, rtype)
        return rrs

    def _soa(self, do: bool) -> list[dnslib.RR]:
        return self._rrset(self.origin, SOA, do)

    def _apex_ns(self, do: bool) -> list[dnslib.RR]:
        return self._rrset(self.origin, NS, do)

    def _addresses(self, name: Name, do: bool) -> list[dnslib.RR]:
        return self._rrset(name, A, do) + self._rrset(name, AAAA, do)

    def _glue(self, nsrrs: list[dnslib.RR], do: bool) -> list[dnslib.RR]:
        """Return addresses of name servers below their NS owner (CoreDNS's Glue)."""
        out: list[dnslib.RR] = []
        for rr in nsrrs:
            if rr.rtype != NS:
                continue
            owner, target = name_of(rr.rname), name_of(rr.rdata.label)
            if within(target, owner):
                out += self._addresses(target, do)
        return out

    def _additional(self, answer: list[dnslib.RR], do: bool) -> list[dnslib.RR]:
        out: list[dnslib.RR] = []
        for rr in answer:
            if rr.rtype == MX:
                target = name_of(rr.rdata.label)
            elif rr.rtype == SRV:
                target = name_of(rr.rdata.target)
            else:
                continue
            if self.contains(target):
                out += self._addresses(target, do)
        return out

    def _prev(self, name: Name) -> Name | None:
        """Return the greatest owner name not after `name` in canonical order."""
        i = bisect.bisect_right(self.sorted, _canonical(name))
        return tuple(reversed(self.sorted[i - 1])) if i else None

    def _nsec(self, name: Name | None, do: bool) -> list[dnslib.RR]:
        return self._rrset(name, NSEC, do) if name is not None else []

    # -- lookup --------------------------------------------------------------------------

    def lookup(self, qname: Name, qtype: int, do: bool, depth: int = 0) -> Result:
        """Look `qname`/`qtype` up in the zone (see the module doc)."""
        origin = self.origin
        if qname == origin and qtype == SOA:
            return Result("answer", self._soa(do), self._apex_ns(do))
        if qname == origin and qtype == NS:
            nsrrs = self._apex_ns(do)
            return Result("answer", nsrrs, [], self._glue(nsrrs, do))
        for cut in range(len(qname) - len(origin), -1, -1):
            name = qname[cut:]
            node = self.nodes.get(name)
            if node is None:
                continue
            if DNAME_T in node and name != qname:
                return self._dname(qname, qtype, name, do, depth)
            if NS in node and name != origin:
                if qtype == DS and name == qname:
                    continue
                nsrrs = list(node[NS])
                if do:
                    nsrrs += self._rrset(name, DS, do)
                return Result("delegation", [], nsrrs, self._glue(node[NS], do))
        node = self.nodes.get(qname)
        if node is not None:
            if CNAME in node and qtype != CNAME:
                return self._chase(self._rrset(qname, CNAME, do), qtype, do, depth)
            rrs = self._rrset(qname, qtype, do)
            if not rrs:
                return Result("nodata", [], self._soa(do) + (self._nsec(qname, do) if do else []))
            return Result("answer", rrs, self._apex_ns(do), self._additional(rrs, do))
        if qname in self.names:  # an empty non-terminal
            return Result("nodata", [], self._soa(do) + (self._nsec(self._prev(qname), do)))
        encloser = next(qname[c:] for c in range(1, len(qname) + 1) if qname[c:] in self.names)
        wild = (b"*", *encloser)
        if wild in self.nodes:
            return self._wildcard(qname, qtype, wild, do, depth)
        auth = self._soa(do)
        if do:
            prev = self._prev(qname)
            auth += self._nsec(prev, do)
            cover = self._prev(wild)
            if cover != prev:
                auth += self._nsec(cover, do)
        return Result("nxdomain", [], auth)

    def _wildcard(self, qname: Name, qtype: int, wild: Name, do: bool, depth: int) -> Result:
        """Answer from the wildcard `wild`, its records renamed to `qname` (RFC 4592)."""
        node = self.nodes[wild]
        if CNAME in node and qtype != CNAME:
            return self._chase(_renamed(self._rrset(wild, CNAME, do), qname), qtype, do, depth)
        rrs = _renamed(self._rrset(wild, qtype, do), qname)
        if not rrs:
            return Result("nodata", [], self._soa(do) + (self._nsec(wild, do) if do else []))
        auth = self._apex_ns(do)
        if do:
            auth += self._nsec(self._prev(qname), do)
        return Result("answer", rrs, auth)

    def _dname(self, qname: Name, qtype: int, owner: Name, do: bool, depth: int) -> Result:
        """Synthesise the CNAME a DNAME at `owner` implies for `qname` (RFC 6672)."""
        dname = self.nodes[owner][DNAME_T][0]
        target = qname[: len(qname) - len(owner)] + name_of(dname.rdata.label)
        if sum(len(label) + 1 for label in target) + 1 > 255:
            return Result("nxdomain", [dname], self._soa(do))  # YXDOMAIN is not kept apart
        cname = dnslib.RR(
            dnslib.DNSLabel(qname), CNAME, dname.rclass, dname.ttl, dnslib.CNAME(target)
        )
        result = self._chase([cname], qtype, do, depth)
        result.answer[:0] = self._rrset(owner, DNAME_T, do)
        return result

    def _chase(self, rrs: list[dnslib.RR], qtype: int, do: bool, depth: int) -> Result:
        """Follow a CNAME chain inside the zone, from the CNAME RRset `rrs`."""
        answer = list(rrs)
        target = name_of(rrs[0].rdata.label)
        for _ in range(MAX_CHAIN + 1):
            if not self.contains(target):
                return Result("answer", answer, self._apex_ns(do), external=target)
            node = self.nodes.get(target)
            if node is None:  # in the zone but not a plain name: look it up as a client would
                if depth >= MAX_CHAIN:
                    break
                sub = self.lookup(target, qtype, do, depth + 1)
                answer += sub.answer
                kind: Kind = "nxdomain" if sub.kind == "nxdomain" else "answer"
                return Result(kind, answer, self._apex_ns(do), external=sub.external)
            if CNAME not in node:
                answer += self._rrset(target, qtype, do)
                break
            answer += self._rrset(target, CNAME, do)
            target = name_of(node[CNAME][0].rdata.label)
        return Result("answer", answer, self._apex_ns(do))

    # -- transfer ------------------------------------------------------------------------

    def transfer(self, serial: int = 0) -> list[dnslib.RR]:
        """Return the zone for AXFR (SOA first and last), or the SOA alone when up to date.

        Order, as CoreDNS sends it: SOA and its signatures, the apex NS and theirs, then
        every name in canonical order with its records by type number.
        """
        if serial and serial >= self.serial:
            return [self.soa]
        origin = self.origin
        out = self._soa(True) + self._apex_ns(True)
        apex_sigs = {id(rr) for rr in out}
        for key in self.sorted:
            name = tuple(reversed(key))
            node = self.nodes[name]
            for rtype in sorted(node):
                if name == origin and rtype in (SOA, NS):
                    continue
                out += [rr for rr in node[rtype] if id(rr) not in apex_sigs]
        out.append(self.soa)
        return out


def _renamed(rrs: list[dnslib.RR], owner: Name) -> list[dnslib.RR]:
    label = dnslib.DNSLabel(owner)
    return [dnslib.RR(label, rr.rtype, rr.rclass, rr.ttl, rr.rdata) for rr in rrs]


__all__ = ["DNAME", "MAX_CHAIN", "Result", "Zone", "name_of", "within"]
