"""local: fixed answers for localhost and the loopback reverse zones, as CoreDNS gives them.

The zones are `localhost.`, `0.in-addr.arpa.`, `127.in-addr.arpa.` and `255.in-addr.arpa.`.
At an apex: SOA and NS records, A 127.0.0.1 and AAAA ::1 for `localhost.` only, NODATA (SOA
in authority) for other types. `1.0.0.127.in-addr.arpa.` has a PTR to `localhost.`. Every
other name in the zones is NXDOMAIN. Names below `localhost.` (RFC 6761) and, unless
`localhost_prefix off`, names starting with `localhost.` get the loopback addresses for A and
AAAA and NODATA otherwise. Replies are not authoritative and every record has a TTL of a week,
as in CoreDNS; owner names keep the case the client asked with.
"""

from __future__ import annotations

import dnslib

from kdns.corefile.syntax import longest_zone
from kdns.plugins.base import NXDOMAIN, Plugin, Request, ResponseWriter, next_or_failure
from kdns.plugins.local.config import LocalConfig
from kdns.plugins.local.metrics import LOCALHOST

QT = dnslib.QTYPE
TTL = 604800
ZONES = ("localhost.", "0.in-addr.arpa.", "127.in-addr.arpa.", "255.in-addr.arpa.")
LOOPBACK_PTR = "1.0.0.127.in-addr.arpa."
LOCALHOST_NAME = "localhost."


def soa(owner: str) -> dnslib.RR:
    """Return the SOA CoreDNS writes for `owner`: localhost., root.localhost., serial 1."""
    rdata = dnslib.SOA("localhost.", "root.localhost.", (1, 0, 0, 0, TTL))
    return dnslib.RR(owner, QT.SOA, ttl=TTL, rdata=rdata)


def loopback(owner: str, qtype: int) -> dnslib.RR | None:
    """Return the A or AAAA loopback record for `owner`, None for other types."""
    if qtype == QT.A:
        return dnslib.RR(owner, QT.A, ttl=TTL, rdata=dnslib.A("127.0.0.1"))
    if qtype == QT.AAAA:
        return dnslib.RR(owner, QT.AAAA, ttl=TTL, rdata=dnslib.AAAA("::1"))
    return None


class Local(Plugin[LocalConfig]):
    """Answers local names itself; every other query goes to the next plugin."""

    name = "local"
    #: What it answers never reaches the cache behind it, so an answer the cache already holds
    #: is one this plugin would have passed on: the fast path may skip it.
    fast_transparent = True

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer a query for a local name (see the module doc), or pass it on."""
        qname, owner = req.qname, req.name
        if len(qname) > len(LOCALHOST_NAME) and (
            qname.endswith("." + LOCALHOST_NAME)
            or (self.config.localhost_prefix and qname.startswith(LOCALHOST_NAME))
        ):
            LOCALHOST.inc()
            reply = req.reply()
            record = loopback(owner, req.qtype)
            if record is not None:
                reply.add_answer(record)
            else:
                reply.add_auth(soa(owner))
            return self._write(req, w, reply)
        zone = longest_zone(qname, ZONES)
        if zone is None:
            return await next_or_failure(self.name, self.next, req, w)
        zone_owner = owner[len(owner) - len(zone) :]  # the zone, in the client's case
        reply = req.reply()
        qtype = req.qtype
        if qname in ZONES:
            record = loopback(owner, qtype) if qname == LOCALHOST_NAME else None
            if record is not None:
                reply.add_answer(record)
            elif qtype == QT.SOA:
                reply.add_answer(soa(owner))
            elif qtype == QT.NS:
                reply.add_answer(dnslib.RR(owner, QT.NS, ttl=TTL, rdata=dnslib.NS(LOCALHOST_NAME)))
            else:
                reply.add_auth(soa(owner))
        elif qname == LOOPBACK_PTR:
            if qtype == QT.PTR:
                reply.add_answer(
                    dnslib.RR(owner, QT.PTR, ttl=TTL, rdata=dnslib.PTR(LOCALHOST_NAME))
                )
            else:
                reply.add_auth(soa(zone_owner))
        else:
            reply.header.rcode = NXDOMAIN
            reply.add_auth(soa(zone_owner))
        return self._write(req, w, reply)

    def _write(self, req: Request, w: ResponseWriter, reply: dnslib.DNSRecord) -> int:
        req.answered_by = self.name
        w.write(reply)
        return int(reply.header.rcode)
