"""transfer: answers AXFR and IXFR for the zones of transfer-capable plugins, as CoreDNS does.

CoreDNS's rules, kept here: other query types, and names outside every `transfer` zone, go to
the next plugin; a transfer over UDP is REFUSED, and so is a client that `to` does not allow;
an IXFR must carry the client's SOA in its authority section (else SERVFAIL). The first plugin
behind this one that is authoritative for the name asked (see capability.py) supplies the
records; when none is, the query goes on down the chain (where the *kubernetes* plugin, for
one, refuses it). A zone up to date for an IXFR gets its SOA alone; anything else is sent as
a stream of messages of at most 16 KiB, each a reply to the question.

NOTIFY (notify.py): a transferer that announces its changes (the Notifier capability:
*file*) tells this plugin of each zone it loads at startup and of each new serial; the
secondaries in the closest `transfer` zone's `to` (but `*`) are then notified, from `source`
when set. *kubernetes* and *k8s_external* announce nothing, as in CoreDNS.
"""

from __future__ import annotations

import asyncio
import contextlib

import dnslib
import structlog

from kdns.corefile.syntax import longest_zone
from kdns.plugins.base import (
    NOERROR,
    REFUSED,
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.transfer.capability import Notifier, Transferer, transferers
from kdns.plugins.transfer.config import TransferConfig
from kdns.plugins.transfer.notify import TIMEOUT, notify_all

log = structlog.get_logger("plugin/transfer")

IXFR, AXFR, SOA = 251, 252, 6
#: The largest message sent: every offset in it fits a 14-bit compression pointer. (TCP takes
#: 65535, but dnslib writes broken pointers to names past 16383 bytes.)
MAX_MESSAGE = 16383
#: Room kept in each message for the header, the question and an OPT record.
OVERHEAD = 512


def _size(rr: dnslib.RR) -> int:
    """Return the size of a record packed alone: never less than it takes inside a message."""
    buffer = dnslib.DNSBuffer()
    rr.pack(buffer)
    return len(buffer.data)


def envelopes(
    records: list[dnslib.RR], limit: int = MAX_MESSAGE - OVERHEAD
) -> list[list[dnslib.RR]]:
    """Split a transfer into messages whose records take at most `limit` bytes each."""
    out: list[list[dnslib.RR]] = []
    current: list[dnslib.RR] = []
    used = 0
    for rr in records:
        size = _size(rr)
        if current and used + size > limit:
            out.append(current)
            current, used = [], 0
        current.append(rr)
        used += size
    if current:
        out.append(current)
    return out


class Transfer(Plugin[TransferConfig]):
    """Serves zone transfers from the transferers behind it in the chain."""

    name = "transfer"

    def __init__(
        self,
        configs: tuple[TransferConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        #: The plugins behind this one that can list a zone, in chain order (the chain is built
        #: from its end, so everything behind this plugin exists already).
        self.sources: list[Transferer] = transferers(nxt)
        self._notifying: set[asyncio.Task[None]] = set()
        #: Seconds each NOTIFY waits for the secondary's reply (tests shorten it).
        self.notify_timeout = TIMEOUT

    async def start(self) -> None:
        """Ask the transferers that announce changes to tell this plugin, to send NOTIFY."""
        for source in self.sources:
            if isinstance(source, Notifier):
                source.on_change(self.notify)

    async def stop(self) -> None:
        """Give up the NOTIFY messages still being sent."""
        tasks = list(self._notifying)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def notify(self, zone: str) -> None:
        """Start notifying the secondaries of `zone` (the `to` addresses of its closest
        `transfer` zone, but `*`); a zone outside every `transfer` zone is ignored."""
        config = self._config(zone.lower())
        if config is None or not config.to:
            return
        task = asyncio.create_task(self._send(zone.lower(), config), name=f"notify {zone}")
        self._notifying.add(task)
        task.add_done_callback(self._notifying.discard)

    async def _send(self, zone: str, config: TransferConfig) -> None:
        failed = await notify_all(zone, config.to, config.source, timeout=self.notify_timeout)
        for target, problem in failed.items():
            log.error(f"notify for zone {zone!r} was not accepted by {_hp(target)}: {problem}")
        log.debug("sent notifies", zone=zone, to=[_hp(t) for t in config.to])

    def _config(self, qname: str) -> TransferConfig | None:
        """Return the `transfer` directive whose zone holds `qname` most closely."""
        best: TransferConfig | None = None
        longest = -1
        for config in self.configs:
            zone = longest_zone(qname, config.zones)
            if zone is not None and len(zone) > longest:
                best, longest = config, len(zone)
        return best

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer AXFR/IXFR for a covered zone (see the module doc); pass anything else on."""
        if req.qtype not in (AXFR, IXFR):
            return await next_or_failure(self.name, self.next, req, w)
        if req.proto != "tcp":
            return REFUSED
        config = self._config(req.qname)
        if config is None:
            return await next_or_failure(self.name, self.next, req, w)
        if not config.allows(req.remote[0]):
            return REFUSED
        serial = 0
        if req.qtype == IXFR:
            auth = req.msg.auth
            if len(auth) != 1 or auth[0].rtype != SOA:
                return SERVFAIL
            serial = int(auth[0].rdata.times[0])
        records: list[dnslib.RR] | None = None
        for source in self.sources:
            records = source.transfer(req.qname, serial)
            if records is not None:
                break
        if records is None:
            return await next_or_failure(self.name, self.next, req, w)
        if not records or records[0].rtype != SOA:
            log.error("first record of a zone transfer is not its SOA", zone=req.qname)
            return SERVFAIL
        req.answered_by = self.name
        if len(records) == 1:  # up to date: the SOA alone, as CoreDNS writes it (not aa)
            reply = req.reply(NOERROR)
            reply.rr = records
            w.write(reply)
            return NOERROR
        for chunk in envelopes(records):
            reply = req.reply(NOERROR, aa=True)
            reply.rr = chunk
            w.write(reply)
        log.info(
            "outgoing transfer",
            records=len(records),
            zone=req.qname,
            to=req.remote[0],
            serial=int(records[0].rdata.times[0]),
        )
        return NOERROR


def _hp(target: tuple[str, int]) -> str:
    host, port = target
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
