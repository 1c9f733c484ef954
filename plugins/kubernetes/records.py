"""The answer to one query inside a cluster zone, as CoreDNS's kubernetes plugin gives it.

`answer(index, config, name, qtype, zone)` is a pure function: the index, the config and the
question in, an `Outcome` out (records, or NODATA, NXDOMAIN or REFUSED). The one thing it
cannot do without I/O is resolve an ExternalName target outside the zone; it then returns a
`Chase` naming the lookup, and the handler finishes the answer. Names the client wrote keep
its spelling; names built from objects are the (lower-case) object names followed by the zone
as the client spelled it.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Literal

import dnslib

from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.lookup import AAAA, NS, SRV, TXT, A, Lookup
from kdns.plugins.kubernetes.names import (
    address_from_reverse,
    in_zone,
    is_ipv4,
    join,
    parse_ip,
)

CNAME, SOA, PTR, MX, IXFR, AXFR = 5, 6, 12, 15, 251, 252
IN = 1
#: The most CNAMEs one answer follows through ExternalName services.
MAX_CNAMES = 10
#: The cap on the SOA record's own TTL (its MINIMUM field keeps the plugin ttl).
SOA_TTL_CAP = 300

Kind = Literal["answer", "nodata", "nxdomain", "refused"]


@dataclass(frozen=True, slots=True)
class Chase:
    """An ExternalName target outside the zone that must be resolved through the server.

    The answer is `prefix` (the CNAME chain that led there) followed by the target's answer
    records; if the lookup fails, the whole chain is dropped.
    """

    prefix: tuple[dnslib.RR, ...]
    target: str
    qtype: int


@dataclass(slots=True)
class Outcome:
    """The answer to a query, before the SOA of negative answers is added."""

    kind: Kind
    answer: list[dnslib.RR] = field(default_factory=list)
    extra: list[dnslib.RR] = field(default_factory=list)
    chase: Chase | None = None


def _rr(owner: str, rtype: int, ttl: int, rdata: dnslib.RD) -> dnslib.RR:
    return dnslib.RR(owner, rtype, IN, ttl, rdata)


def address_rr(owner: str, ip_text: str, ttl: int) -> dnslib.RR:
    """Return the A or AAAA record of an address (IPv4-mapped IPv6 counts as IPv4, as in Go)."""
    ip = parse_ip(ip_text)
    assert ip is not None, ip_text
    return ip_rr(owner, ip, ttl)


def ip_rr(owner: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, ttl: int) -> dnslib.RR:
    """Return the A or AAAA record of a parsed address."""
    if is_ipv4(ip):
        v4 = getattr(ip, "ipv4_mapped", None) or ip
        return _rr(owner, A, ttl, dnslib.A(tuple(v4.packed)))
    return _rr(owner, AAAA, ttl, dnslib.AAAA(tuple(ip.packed)))


def soa_rr(config: KubernetesConfig, zone: str, serial: int) -> dnslib.RR:
    """Return the zone's SOA: `ns.dns.<zone>`, `hostmaster.<zone>`, TTL min(ttl, 300)."""
    ttl = config.ttl
    rdata = dnslib.SOA(
        join("ns", "dns", zone), join("hostmaster", zone), (serial, 7200, 1800, 86400, ttl)
    )
    return _rr(zone, SOA, min(ttl, SOA_TTL_CAP), rdata)


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _nodata_or(records: list[dnslib.RR], extra: list[dnslib.RR] | None = None) -> Outcome:
    if not records:
        return Outcome("nodata")
    return Outcome("answer", records, extra or [])


def answer(
    index: Index,
    config: KubernetesConfig,
    name: str,
    qtype: int,
    zone: str,
    local_ips: tuple[str, ...] = (),
) -> Outcome:
    """Answer `name` (as the client wrote it) for `qtype` in `zone` (in the client's spelling).

    `local_ips` are the server's own non-loopback addresses, for the apex NS answer.
    """
    lk = Lookup(index, config, zone, local_ips)
    qname = name.lower()
    if qtype in (A, AAAA):
        found = _addresses(lk, name, qtype, ())
        if found is None:
            return Outcome("nxdomain")
        records, chase = found
        if chase is not None:
            return Outcome("answer", records, [], chase)
        return _nodata_or(records)
    if qtype == SRV:
        return _srv(lk, name, qname)
    if qtype == TXT:
        entries = lk.services(qname, TXT)
        if entries is None:
            return Outcome("nxdomain")
        unique: dict[str, int] = {}
        for e in entries:
            unique.setdefault(e.text, e.ttl)
        return _nodata_or([_rr(name, TXT, ttl, dnslib.TXT(t)) for t, ttl in unique.items()])
    if qtype == CNAME:
        entries = lk.services(qname, CNAME)
        if entries is None:
            return Outcome("nxdomain")
        first = entries[0] if entries else None
        if first is None or parse_ip(first.host) is not None:
            return Outcome("nodata")
        return Outcome("answer", [_rr(name, CNAME, first.ttl, dnslib.CNAME(_fqdn(first.host)))])
    if qtype == PTR:
        return _ptr(lk, name, qname)
    if qtype == SOA:
        if qname == zone.lower():
            return Outcome("answer", [soa_rr(config, zone, index.serial_for(lk.multicluster))])
        return Outcome("nodata")  # CoreDNS never checks existence for SOA below the apex
    if qtype in (AXFR, IXFR):
        return Outcome("refused")
    if qtype == NS and qname == zone:  # the zone in the client's spelling, as CoreDNS does
        return _ns(lk, name)
    # MX and every other type: the name's existence decides between NODATA and NXDOMAIN.
    return Outcome("nodata") if lk.services(qname, A) is not None else Outcome("nxdomain")


def _addresses(
    lk: Lookup, name: str, qtype: int, previous: tuple[str, ...]
) -> tuple[list[dnslib.RR], Chase | None] | None:
    """Return the A/AAAA answer of a name and the out-of-zone lookup it needs, or None (NX).

    ExternalName targets inside the zone are followed here; a target that has no record of
    the type drops its CNAME. A CNAME to the name itself or below it, a repeated target, or
    one beyond MAX_CNAMES is left out (CoreDNS's loop guards).
    """
    qname = name.lower()
    entries = lk.services(qname, qtype)
    if entries is None:
        return None
    records: list[dnslib.RR] = []
    chase: Chase | None = None
    seen: set[str] = set()
    for e in entries:
        ip = parse_ip(e.host)
        if ip is None:
            target = _fqdn(e.host)
            low = target.lower()
            if in_zone(qname, low) or len(previous) >= MAX_CNAMES or low in previous:
                continue
            cname = _rr(name, CNAME, e.ttl, dnslib.CNAME(target))
            if not in_zone(lk.zone, low):
                chase = Chase((cname,), target, qtype)
                continue
            inner = _addresses(lk, target, qtype, (*previous, low))
            if inner is None:
                continue
            more, deeper = inner
            if more:
                records += [cname, *more]
            if deeper is not None:
                chase = Chase((cname, *deeper.prefix), deeper.target, qtype)
            continue
        if (qtype == A) == is_ipv4(ip) and e.host not in seen:
            seen.add(e.host)
            records.append(ip_rr(name, ip, e.ttl))
    return records, chase


def _srv(lk: Lookup, name: str, qname: str) -> Outcome:
    """Return the SRV answer: priority 0, weight floor(100/N) over all N entries, deduplicated."""
    entries = lk.services(qname, SRV)
    if entries is None:
        return Outcome("nxdomain")
    if not entries:
        return Outcome("nodata")
    weight = max(1, math.floor(100.0 / float(100 * len(entries)) * 100.0))
    records: list[dnslib.RR] = []
    extra: list[dnslib.RR] = []
    seen: set[tuple[str, str | int]] = set()
    for e in entries:
        if e.port == -1:
            continue
        if (e.key, e.port) not in seen:
            seen.add((e.key, e.port))
            records.append(_rr(name, SRV, e.ttl, dnslib.SRV(0, weight, e.port, e.key)))
        if (e.key, e.host) not in seen:
            seen.add((e.key, e.host))
            extra.append(address_rr(e.key, e.host, e.ttl))
    return _nodata_or(records, extra)


def _ptr(lk: Lookup, name: str, qname: str) -> Outcome:
    """Return the PTR answer of a full reverse name; anything else exists or not as a name."""
    ip = address_from_reverse(qname)
    if ip is None:
        return Outcome("nxdomain") if lk.records(qname) is None else Outcome("nodata")
    targets = lk.reverse(ip)
    if not targets:
        return Outcome("nxdomain")
    return Outcome(
        "answer", [_rr(name, PTR, lk.ttl, dnslib.PTR(t)) for t in dict.fromkeys(targets)]
    )


def _ns(lk: Lookup, name: str) -> Outcome:
    """Return the apex NS answer with the addresses of the name servers as glue."""
    records: list[dnslib.RR] = []
    extra: list[dnslib.RR] = []
    seen: set[str] = set()
    glue: set[tuple[str, str]] = set()
    for e in lk.services(name.lower(), NS) or ():
        if (e.key, e.host) not in glue:
            glue.add((e.key, e.host))
            extra.append(address_rr(e.key, e.host, e.ttl))
        if e.key not in seen:
            seen.add(e.key)
            records.append(_rr(name, NS, e.ttl, dnslib.NS(e.key)))
    return _nodata_or(records, extra)
