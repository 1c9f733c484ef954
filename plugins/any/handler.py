"""any: answers ANY queries with one HINFO record, as RFC 8482 suggests and CoreDNS does."""

from __future__ import annotations

import dnslib

from kdns.plugins.any.config import AnyConfig
from kdns.plugins.base import NOERROR, Plugin, Request, ResponseWriter, next_or_failure

ANY = dnslib.QTYPE.ANY
HINFO = dnslib.QTYPE.HINFO
#: RFC 8482 section 4.2 suggests a TTL; CoreDNS uses the RFC's number.
TTL = 8482
#: CPU "ANY obsoleted", OS "See RFC 8482", as CoreDNS writes them (two character-strings).
RDATA = dnslib.RD(b"\x0dANY obsoleted\x0cSee RFC 8482")


class Any(Plugin[AnyConfig]):
    """Answers qtype ANY itself; every other query goes to the next plugin."""

    name = "any"
    #: What it answers never reaches the cache behind it, so an answer the cache already holds
    #: is one this plugin would have passed on: the fast path may skip it.
    fast_transparent = True

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Reply to ANY with the RFC 8482 HINFO, owned by the query name as asked."""
        if req.qtype != ANY:
            return await next_or_failure(self.name, self.next, req, w)
        reply = req.reply()
        reply.add_answer(dnslib.RR(req.name, HINFO, ttl=TTL, rdata=RDATA))
        req.answered_by = self.name
        w.write(reply)
        return NOERROR
