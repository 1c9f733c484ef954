"""whoami: answers every query with the client's address, port and transport."""

from __future__ import annotations

import dnslib

from kdns.plugins.base import NOERROR, Plugin, Request, ResponseWriter
from kdns.plugins.whoami.config import WhoamiConfig


class Whoami(Plugin[WhoamiConfig]):
    """Terminal plugin: never calls the next one."""

    name = "whoami"

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Reply with an empty answer, the client IP as A/AAAA and its port as SRV."""
        reply = req.reply(aa=True)
        ip = req.remote[0]
        if ":" in ip:
            reply.add_ar(dnslib.RR(req.name, dnslib.QTYPE.AAAA, ttl=0, rdata=dnslib.AAAA(ip)))
        else:
            reply.add_ar(dnslib.RR(req.name, dnslib.QTYPE.A, ttl=0, rdata=dnslib.A(ip)))
        owner = f"_{req.proto}." + ("" if req.name == "." else req.name)
        srv = dnslib.SRV(priority=0, weight=0, port=req.remote[1], target=".")
        reply.add_ar(dnslib.RR(owner, dnslib.QTYPE.SRV, ttl=0, rdata=srv))
        req.answered_by = self.name
        w.write(reply)
        return NOERROR
