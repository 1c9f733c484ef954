"""nsid: adds the name server identifier (RFC 5001) to replies to queries that ask for it.

A query asks by carrying an NSID option in its OPT record (empty, as the RFC says; CoreDNS
does not check). The reply gets the option with the identifier, in the OPT record the chain
wrote or in a new one; an NSID option already there is replaced. Other queries pass through
untouched.
"""

from __future__ import annotations

import socket

import dnslib

from kdns.plugins.base import (
    EDNS_SIZE,
    BuildContext,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.nsid.config import NsidConfig

OPT = dnslib.QTYPE.OPT
#: The EDNS0 option code of NSID (RFC 5001).
NSID = 3


def default_data() -> str:
    """Return the host name, CoreDNS's default identifier (`localhost` if unreadable)."""
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


def asks_nsid(req: Request) -> bool:
    """Tell whether the query carries an NSID option."""
    opt = req.opt
    return opt is not None and any(o.code == NSID for o in opt.rdata)


def with_nsid(req: Request, reply: dnslib.DNSRecord, data: bytes) -> None:
    """Put the NSID option with `data` in the reply's OPT record, adding one if needed."""
    opt = next((rr for rr in reply.ar if rr.rtype == OPT), None)
    if opt is None:
        opt = dnslib.EDNS0(udp_len=EDNS_SIZE, flags="do" if req.do else "")
        reply.add_ar(opt)
    options = [o for o in opt.rdata if o.code != NSID]
    options.append(dnslib.EDNSOption(NSID, data))
    opt.rdata = options


class NsidWriter:
    """A writer that adds the NSID option to every reply on its way out."""

    __slots__ = ("data", "inner", "req")

    def __init__(self, inner: ResponseWriter, req: Request, data: bytes) -> None:
        self.inner = inner
        self.req = req
        self.data = data

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Add the NSID option to `reply`, then write it."""
        with_nsid(self.req, reply, self.data)
        self.inner.write(reply)


class Nsid(Plugin[NsidConfig]):
    """Wraps the writer of the rest of the chain for queries that ask for NSID."""

    name = "nsid"

    def __init__(
        self, configs: tuple[NsidConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        text = self.config.data if self.config.data is not None else default_data()
        self.data = text.encode()

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Pass the query on, with the NSID-adding writer when the query asks for NSID."""
        if asks_nsid(req):
            w = NsidWriter(w, req, self.data)
        return await next_or_failure(self.name, self.next, req, w)
