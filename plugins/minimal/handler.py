"""minimal: drops the authority and additional sections of positive answers, as CoreDNS does.

The rest of the chain writes into a capturing writer; the reply is then classified the way
CoreDNS's response.Typify does. Only a NOERROR reply that is neither NODATA (SOA in authority)
nor a delegation (NS in authority, no answer) is trimmed; the OPT record stays, so EDNS
options the chain added (NSID, extended errors) still reach the client. Zone transfers stream
several messages and go to the real writer untouched.
"""

from __future__ import annotations

import dnslib

from kdns.plugins.base import NOERROR, Capture, Plugin, Request, ResponseWriter, next_or_failure
from kdns.plugins.minimal.config import MinimalConfig

QT = dnslib.QTYPE
AXFR, IXFR, OPT, SOA, NS = QT.AXFR, QT.IXFR, QT.OPT, QT.SOA, QT.NS
#: Opcodes CoreDNS does not classify as answers (NOTIFY, UPDATE): written untouched.
META_OPCODES = frozenset({4, 5})


def trimmable(reply: dnslib.DNSRecord) -> bool:
    """Tell whether a reply is a positive answer (CoreDNS's NoError type)."""
    if reply.header.rcode != NOERROR or reply.header.opcode in META_OPCODES:
        return False
    if reply.rr:
        return True
    types = {rr.rtype for rr in reply.auth}
    return SOA not in types and NS not in types  # not NODATA, not a delegation


def minimized(reply: dnslib.DNSRecord) -> dnslib.DNSRecord:
    """Return a copy of `reply` without authority and additional records (OPT kept)."""
    return dnslib.DNSRecord(
        reply.header,
        questions=reply.questions,
        rr=reply.rr,
        ar=[rr for rr in reply.ar if rr.rtype == OPT],
    )


class Minimal(Plugin[MinimalConfig]):
    """Wraps the rest of the chain; never answers by itself."""

    name = "minimal"

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Run the rest of the chain, then write its reply, trimmed when it is positive."""
        if req.qtype == AXFR or req.qtype == IXFR:
            return await next_or_failure(self.name, self.next, req, w)
        capture = Capture()
        rcode = await next_or_failure(self.name, self.next, req, capture)
        reply = capture.reply
        if reply is None:
            return rcode  # nothing written: the server answers with `rcode`, or nothing at all
        w.write(minimized(reply) if trimmable(reply) else reply)
        return NOERROR  # written, as CoreDNS's minimal returns after writing
