"""cache: what kind of reply this is, and for how long it may be cached (CoreDNS's rules).

`typify` follows CoreDNS's response.Typify, `minimal_ttl` its dnsutil.MinimalTTL: the TTL of
an item is the lowest TTL over answer, authority and additional records (OPT excluded), and a
reply with no records gets 5 seconds.
"""

from __future__ import annotations

import time
from enum import Enum

import dnslib

OPT, SOA, NS, RRSIG = 41, 6, 2, 46
AXFR, IXFR = 252, 251
NOTIFY, UPDATE = 4, 5
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 2, 3, 4
#: CoreDNS's MinimalDefaultTTL and MaximumDefaulTTL, in seconds.
MINIMAL_TTL = 5
MAXIMAL_TTL = 3600
_YEAR68 = 1 << 31


class Kind(Enum):
    """The classes of reply CoreDNS tells apart (response.Type)."""

    NO_ERROR = "NOERROR"
    NAME_ERROR = "NXDOMAIN"
    SERVER_ERROR = "SERVERERROR"
    NO_DATA = "NODATA"
    DELEGATION = "DELEGATION"
    META = "META"
    UPDATE = "UPDATE"
    OTHER_ERROR = "OTHERERROR"


#: Kinds that go to the success cache, and to the denial cache; the rest is never cached.
SUCCESS_KINDS = frozenset({Kind.NO_ERROR, Kind.DELEGATION})
DENIAL_KINDS = frozenset({Kind.NAME_ERROR, Kind.NO_DATA, Kind.SERVER_ERROR})


def _sig_valid(sig: dnslib.RRSIG, now: int) -> bool:
    """Tell whether an RRSIG's validity period covers `now`, as miekg/dns ValidityPeriod does."""
    inc, exp = int(sig.sig_inc), int(sig.sig_exp)
    inception = inc + _go_div(inc - now, _YEAR68) * _YEAR68
    expiration = exp + _go_div(exp - now, _YEAR68) * _YEAR68
    return inception <= now <= expiration


def _expired(reply: dnslib.DNSRecord, now: float) -> bool:
    """Tell whether any RRSIG in the reply is outside its validity period."""
    stamp = int(now)
    for section in (reply.rr, reply.auth, reply.ar):
        for rr in section:
            rdata = rr.rdata
            if (
                rr.rtype == RRSIG
                and isinstance(rdata, dnslib.RRSIG)
                and not _sig_valid(rdata, stamp)
            ):
                return True
    return False


def _go_div(a: int, b: int) -> int:
    """Divide as Go does for int64: truncating toward zero."""
    q = abs(a) // b
    return q if a >= 0 else -q


def typify(reply: dnslib.DNSRecord, wall: float | None = None) -> Kind:
    """Classify a reply as CoreDNS's response.Typify does."""
    header = reply.header
    if header.opcode == UPDATE:
        return Kind.UPDATE
    if header.opcode == NOTIFY:
        return Kind.META
    if reply.questions and reply.questions[0].qtype in (AXFR, IXFR):
        return Kind.META
    opt = next((rr for rr in reply.ar if rr.rtype == OPT), None)
    do = opt is not None and bool(opt.ttl & 0x8000)
    if do and _expired(reply, time.time() if wall is None else wall):
        return Kind.OTHER_ERROR
    rcode = header.rcode
    if reply.rr and rcode == NOERROR:
        return Kind.NO_ERROR
    soa = any(rr.rtype == SOA for rr in reply.auth)
    ns = any(rr.rtype == NS for rr in reply.auth)
    if soa and rcode == NOERROR:
        return Kind.NO_DATA
    if soa and rcode == NXDOMAIN:
        return Kind.NAME_ERROR
    if rcode in (SERVFAIL, NOTIMP):
        return Kind.SERVER_ERROR
    if ns and rcode == NOERROR:
        return Kind.DELEGATION
    if rcode == NOERROR:
        return Kind.NO_ERROR
    return Kind.OTHER_ERROR


def minimal_ttl(reply: dnslib.DNSRecord, kind: Kind) -> int:
    """Return the lowest TTL of the reply's records, in seconds, as dnsutil.MinimalTTL does."""
    if kind not in (Kind.NO_ERROR, Kind.NAME_ERROR, Kind.NO_DATA):
        return MINIMAL_TTL
    extra = [rr for rr in reply.ar if rr.rtype != OPT]
    if not reply.rr and not reply.auth and not extra:
        return MINIMAL_TTL
    lowest = MAXIMAL_TTL
    for section in (reply.rr, reply.auth, extra):
        for rr in section:
            lowest = min(lowest, int(rr.ttl))
    return lowest


def clamp(ttl: int, low: int, high: int) -> int:
    """Clamp a TTL to [low, high] the way CoreDNS's computeTTL does (low first, then high)."""
    if ttl < low:
        ttl = low
    if ttl > high:
        ttl = high
    return ttl
