"""bufsize: lowers the EDNS0 UDP payload size of requests before the rest of the chain runs."""

from __future__ import annotations

import dnslib

from kdns.plugins.base import (
    BuildContext,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.bufsize.config import BufsizeConfig

OPT = dnslib.QTYPE.OPT


class Bufsize(Plugin[BufsizeConfig]):
    """Caps the buffer size a request's OPT record advertises; never adds an OPT record.

    Only the first `bufsize` of a block counts, as in CoreDNS. The plugins after it, and the
    writer truncating the reply, see the lowered size.
    """

    name = "bufsize"
    #: Only changes what is asked upstream; an answer served from bytes never goes there.
    fast_transparent = True

    def __init__(
        self, configs: tuple[BufsizeConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.size = self.config.size

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Lower the request's advertised UDP size to the configured one, then pass it on."""
        for rr in req.msg.ar:
            if rr.rtype == OPT:
                if rr.rclass > self.size:
                    rr.rclass = self.size
                break
        return await next_or_failure(self.name, self.next, req, w)
