"""dns64: synthesises AAAA answers from A records (RFC 6147), as CoreDNS's dns64 does.

For an AAAA query of class IN (from an IPv6 client, unless `allow_ipv4`), the reply of the rest
of the chain is held back. If it is NXDOMAIN, or already has AAAA records (and `translate_all`
is off), it goes out unchanged. Otherwise the rest of the chain is asked the same name for A,
and the reply is made of that answer with every A record turned into an AAAA record under the
prefix (RFC 6052 layout), with the A reply's authority and additional sections. The TTL of a
synthesised record is the smaller of the A record's TTL and the TTL of the SOA in the AAAA
reply's authority section (600 when there is none); the reply is NOERROR, not authoritative.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import dnslib

from kdns.plugins.base import (
    NXDOMAIN,
    BuildContext,
    Capture,
    Handler,
    Plugin,
    PluginError,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.dns64.config import DEFAULT_PREFIX, Dns64Config
from kdns.plugins.dns64.metrics import TRANSLATED

#: QTYPE A, AAAA and SOA, and CLASS IN (plain ints: dnslib.QTYPE lookups are untyped).
A, AAAA, SOA, IN = 1, 28, 6, 1
#: TTL used when the AAAA reply has no SOA to bound it (RFC 6147 section 5.1.7).
NO_SOA_TTL = 600


def to6(prefix: ipaddress.IPv6Network, v4: bytes) -> bytes:
    """Embed an IPv4 address in `prefix` as RFC 6052 section 2.2 lays it out.

    The prefix takes the first LEN/8 bytes; the IPv4 bytes follow, skipping byte 8 (the
    reserved "u" octet, always zero); the rest is zero.
    """
    out = bytearray(16)
    n = prefix.prefixlen // 8
    out[:n] = prefix.network_address.packed[:n]
    places = [i for i in range(n, 16) if i != 8][:4]
    for place, byte in zip(places, v4, strict=True):
        out[place] = byte
    return bytes(out)


class Dns64(Plugin[Dns64Config]):
    """Turns A answers into AAAA answers for clients behind NAT64."""

    name = "dns64"

    def __init__(
        self, configs: tuple[Dns64Config, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        # Several dns64 lines add up, as CoreDNS's parse loop does: the last prefix wins.
        self.prefix = next(
            (c.prefix for c in reversed(configs) if c.prefix != DEFAULT_PREFIX), DEFAULT_PREFIX
        )
        self.translate_all = any(c.translate_all for c in configs)
        self.allow_ipv4 = any(c.allow_ipv4 for c in configs)

    def intercepts(self, req: Request) -> bool:
        """Tell whether the query is one dns64 may translate (RFC 6147 section 5.1)."""
        if req.family == 1 and not self.allow_ipv4:
            return False
        return req.qtype == AAAA and req.qclass == IN

    def translates(self, reply: dnslib.DNSRecord) -> bool:
        """Tell whether a reply to an AAAA query calls for synthesis."""
        if reply.header.rcode == NXDOMAIN:
            return False
        if self.translate_all:
            return True
        return not any(rr.rtype == AAAA for rr in reply.rr)

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Pass the query on; synthesise AAAA records when the reply has none."""
        if not self.intercepts(req):
            return await next_or_failure(self.name, self.next, req, w)
        held = Capture()
        rcode = await next_or_failure(self.name, self.next, req, held)
        original = held.reply
        if original is None:
            return rcode
        if not self.translates(original):
            w.write(original)
            return rcode
        found = await self.lookup_a(req)
        if found is None:  # the A lookup failed: the AAAA reply is still the truth
            w.write(original)
            return rcode
        reply = self.synthesize(req, original, found)
        TRANSLATED.inc((req.server,))
        req.answered_by = self.name
        w.write(reply)
        return int(reply.header.rcode)

    async def lookup_a(self, req: Request) -> dnslib.DNSRecord | None:
        """Ask the rest of the chain for the A records of the query's name; None on failure."""
        msg = dnslib.DNSRecord(
            dnslib.DNSHeader(id=req.msg.header.id, rd=1, cd=req.msg.header.cd),
            q=dnslib.DNSQuestion(req.name, A, IN),
        )
        opt = req.opt
        if opt is not None:
            msg.add_ar(opt)
        # The client's request with the A question: same client, listener, view and metadata.
        sub = replace(req, msg=msg, meta=dict(req.meta), answered_by="")
        held = Capture()
        try:
            await next_or_failure(self.name, self.next, sub, held)
        except PluginError:
            return None
        return held.reply

    def synthesize(
        self, req: Request, original: dnslib.DNSRecord, found: dnslib.DNSRecord
    ) -> dnslib.DNSRecord:
        """Build the reply: the A answer with A records made AAAA, its other sections as is."""
        ceiling = NO_SOA_TTL
        for rr in original.auth:
            if rr.rtype == SOA:
                ceiling = int(rr.ttl)
        reply = req.reply()
        for rr in found.rr:
            if rr.rtype != A:
                reply.add_answer(rr)  # CNAMEs and the like pass unchanged (section 5.3.3)
                continue
            address = dnslib.AAAA(tuple(to6(self.prefix, bytes(rr.rdata.data))))
            reply.add_answer(
                dnslib.RR(rr.rname, AAAA, rr.rclass, min(int(rr.ttl), ceiling), address)
            )
        reply.auth = list(found.auth)
        reply.ar = list(found.ar)
        return reply
