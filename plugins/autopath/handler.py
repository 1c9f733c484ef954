"""autopath: walks the client's search path on the server, as CoreDNS's autopath plugin does.

For a query in the plugin's zones whose name is the first search domain or lies below it, the
base name (the query without that domain) is tried under each search domain and then bare,
through the rest of the chain. The first reply that is not NXDOMAIN is returned with the
question set back to the name asked and, when its first record under another name is found,
a CNAME from the name asked to that name in front. When every try is NXDOMAIN (or unanswered),
the first try's reply is returned as it was. The search path comes from a resolv.conf file
(read at start) or from a plugin behind this one (`@kubernetes`, per client).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import dnslib
import structlog

from kdns.corefile.syntax import in_zones
from kdns.plugins.autopath.capability import SearchPather, resolv_search
from kdns.plugins.autopath.config import AutopathConfig
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
    wrote,
)
from kdns.plugins.metrics import REGISTRY

log = structlog.get_logger("plugin/autopath")

CNAME = 5

SUCCESS = REGISTRY.counter(
    "coredns_autopath_success_total",
    "Counter of requests that did autopath.",
    ("server",),
)


def _join(base: str, suffix: str) -> str:
    """Return `base` under `suffix` ("" for the bare name), fully qualified."""
    if not suffix:
        return base + "."
    return base + "." + suffix if suffix != "." else base + "."


def cnamer(reply: dnslib.DNSRecord, original: str) -> None:
    """Put a CNAME from `original` to the first answer owner that differs, and ask `original`.

    The CNAME takes that record's TTL. The question is set back to the name the client asked.
    """
    for rr in reply.rr:
        owner = str(rr.rname)
        if owner.lower() != original.lower():
            cname = dnslib.RR(original, CNAME, 1, rr.ttl, dnslib.CNAME(owner))
            reply.rr.insert(0, cname)
            break
    if reply.questions:
        q = reply.questions[0]
        reply.questions[0] = dnslib.DNSQuestion(original, q.qtype, q.qclass)


class Autopath(Plugin[AutopathConfig]):
    """Follows the client's search path through the rest of the chain."""

    name = "autopath"

    def __init__(
        self,
        configs: tuple[AutopathConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.config = configs[-1]  # the directive may be repeated; the last one counts
        self.zones = self.config.zones
        #: The search domains from the resolv.conf file (read at start).
        self.search: list[str] = []
        #: The plugin that gives each client its path (`@PLUGIN`), found at start.
        self.source: SearchPather | None = None

    async def start(self) -> None:
        """Read the resolv.conf file, or find the `@PLUGIN` behind this one in the chain."""
        config = self.config
        if config.resolv_conf is not None:
            path = Path(config.resolv_conf)
            try:
                text = await asyncio.to_thread(path.read_text)
            except OSError as exc:
                raise PluginError(
                    self.name, f"failed to read {config.resolv_conf!r}: {exc.strerror}"
                ) from None
            self.search = resolv_search(text)
            return
        handler: object = self.next
        while handler is not None:
            if getattr(handler, "name", None) == config.plugin:
                if not isinstance(handler, SearchPather):
                    raise PluginError(
                        self.name, f"{config.plugin} does not implement the AutoPather interface"
                    )
                self.source = handler
                return
            handler = getattr(handler, "next", None)
        # CoreDNS does nothing when the plugin is not in the block.

    def _path(self, req: Request) -> list[str] | None:
        if self.config.plugin is not None:
            if self.source is None:
                return None
            return self.source.search_path(req.qname, req.remote[0])
        return self.search

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Walk the search path for names under its first domain (see the module doc)."""
        if not in_zones(req.qname, self.zones):
            return await next_or_failure(self.name, self.next, req, w)
        path = self._path(req)
        if not path:
            return await next_or_failure(self.name, self.next, req, w)
        first = path[0]
        if first == "." or not req.qname.endswith("." + first):
            # Not below the first search domain (the domain itself has no base to walk).
            return await next_or_failure(self.name, self.next, req, w)
        # The base keeps the client's spelling where it can (the name and qname align).
        name = req.name if len(req.name) == len(req.qname) else req.qname
        base = name[: -len(first) - 1]
        first_reply: dnslib.DNSRecord | None = None
        first_rcode = 0
        for i, suffix in enumerate([*path, ""]):
            sub = req if i == 0 else self._request(req, _join(base, suffix))
            capture = Capture()
            rcode = await next_or_failure(self.name, self.next, sub, capture)
            if i == 0:
                first_reply, first_rcode = capture.reply, rcode
            if not wrote(rcode) or capture.reply is None:
                continue
            if capture.reply.header.rcode == NXDOMAIN:
                continue
            reply = capture.reply
            cnamer(reply, req.name)
            reply.header.id = req.msg.header.id
            req.answered_by = sub.answered_by
            w.write(reply)
            SUCCESS.inc((req.server,))
            return rcode
        if wrote(first_rcode) and first_reply is not None:
            w.write(first_reply)
        return first_rcode

    @staticmethod
    def _request(req: Request, name: str) -> Request:
        """Return `req` asking `name` instead: same header, EDNS, client and block."""
        msg = dnslib.DNSRecord(
            dnslib.DNSHeader(
                id=req.msg.header.id,
                rd=req.msg.header.rd,
                cd=req.msg.header.cd,
                ad=req.msg.header.ad,
                opcode=req.msg.header.opcode,
            ),
            questions=[dnslib.DNSQuestion(name, req.qtype, req.qclass)],
            ar=list(req.msg.ar),
        )
        return Request(
            msg,
            req.proto,
            req.remote,
            req.local,
            size=req.size,
            server=req.server,
            zone=req.zone,
            view=req.view,
            meta=req.meta,
        )
