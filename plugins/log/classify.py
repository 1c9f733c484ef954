"""log: the class of a reply (success, denial, error), as CoreDNS's response.Typify sees it."""

from __future__ import annotations

import time

import dnslib

from kdns.plugins.log.config import LogClass
from kdns.plugins.log.names import OPT, full_rcode

QTYPE = dnslib.QTYPE
SOA, NS, RRSIG, AXFR, IXFR = QTYPE.SOA, QTYPE.NS, QTYPE.RRSIG, QTYPE.AXFR, QTYPE.IXFR
NOTIFY, UPDATE = 4, 5
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 2, 3, 4
_YEAR68 = 1 << 31


def _periods(delta: int) -> int:
    """Return `delta // 2**31` truncated toward zero, as Go's integer division does."""
    whole = abs(delta) // _YEAR68
    return -whole if delta < 0 else whole


def _valid_now(sig: dnslib.RRSIG, now: int) -> bool:
    """Tell whether an RRSIG's validity period holds `now` (RFC 4034 serial arithmetic)."""
    inception, expiration = int(sig.sig_inc), int(sig.sig_exp)
    start = inception + _periods(inception - now) * _YEAR68
    end = expiration + _periods(expiration - now) * _YEAR68
    return start <= now <= end


def _has_expired_signature(msg: dnslib.DNSRecord) -> bool:
    now = int(time.time())
    for section in (msg.rr, msg.auth, msg.ar):
        for rr in section:
            if rr.rtype == RRSIG and not _valid_now(rr.rdata, now):
                return True
    return False


def classify(msg: dnslib.DNSRecord | None) -> LogClass:
    """Return the class of a reply as CoreDNS's response.Classify(Typify(msg)) does.

    NOERROR with data, a delegation or an empty NOERROR without SOA is a success; NXDOMAIN
    or NOERROR with an SOA in authority a denial; everything else (no reply included) an
    error.
    """
    if msg is None:
        return "error"
    opcode = msg.header.opcode
    if opcode in (NOTIFY, UPDATE):
        return "error"  # CoreDNS types these as Meta/Update, which classify as errors
    if msg.questions and msg.questions[0].qtype in (AXFR, IXFR):
        return "error"
    do = any(rr.rtype == OPT and rr.ttl & 0x8000 for rr in msg.ar)
    if do and _has_expired_signature(msg):
        return "error"
    rcode = full_rcode(msg)
    if msg.rr and rcode == NOERROR:
        return "success"
    soa = any(rr.rtype == SOA for rr in msg.auth)
    if soa and rcode in (NOERROR, NXDOMAIN):
        return "denial"
    if rcode in (SERVFAIL, NOTIMP):
        return "error"
    if rcode == NOERROR:
        return "success"  # a delegation (NS in authority) or an empty NOERROR
    return "error"
