"""chaos: answers CH-class TXT queries about the server, as CoreDNS's chaos plugin does.

`version.bind.`/`version.server.` get the version, `authors.bind.` one TXT record per author
in random order, `hostname.bind.`/`id.server.` the host name. Records have TTL 0 and are owned
by the query name as the client wrote it. Any other query goes to the next plugin.
"""

from __future__ import annotations

import random
import socket
from importlib import metadata

import dnslib

from kdns.plugins.base import (
    NOERROR,
    BuildContext,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.chaos.config import MAX_TXT, ChaosConfig

CH = dnslib.CLASS.CH
TXT = dnslib.QTYPE.TXT
#: Who `authors.bind.` names when the Corefile names nobody.
AUTHORS = ("The kdns authors",)


def default_version() -> str:
    """Return `kdns-<version>`, the server's name and version (CoreDNS answers `CoreDNS-x.y.z`)."""
    try:
        return f"kdns-{metadata.version('kdns')}"
    except metadata.PackageNotFoundError:  # running from a source tree
        return "kdns-dev"


def hostname() -> str:
    """Return the host name, cut to one TXT string; `localhost` if it cannot be read."""
    try:
        name = socket.gethostname()
    except OSError:
        name = ""
    return (name or "localhost")[:MAX_TXT]


class Chaos(Plugin[ChaosConfig]):
    """Answers the CH TXT names above; the listener accepts CH queries because of it."""

    name = "chaos"
    #: Tells the runtime to let classes other than IN through to this block.
    any_class = True
    #: What it answers never reaches the cache behind it, so an answer the cache already holds
    #: is one this plugin would have passed on: the fast path may skip it.
    fast_transparent = True

    def __init__(
        self, configs: tuple[ChaosConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.version = self.config.version or default_version()[:MAX_TXT]
        self.authors = self.config.authors or AUTHORS

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer a CH TXT query for a known name; pass everything else on."""
        if req.qclass != CH or req.qtype != TXT:
            return await next_or_failure(self.name, self.next, req, w)
        match req.qname:
            case "authors.bind.":
                texts = random.sample(self.authors, len(self.authors))
            case "version.bind." | "version.server.":
                texts = [self.version]
            case "hostname.bind." | "id.server.":
                texts = [hostname()]
            case _:
                return await next_or_failure(self.name, self.next, req, w)
        reply = req.reply()
        for text in texts:
            reply.add_answer(dnslib.RR(req.name, TXT, CH, 0, dnslib.TXT(text.encode())))
        req.answered_by = self.name
        w.write(reply)
        return NOERROR
