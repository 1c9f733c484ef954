"""file: serves zones read from master files, as CoreDNS's file plugin does.

CoreDNS's rules, kept here: names outside every zone go to the next plugin; the zone that
holds the name most closely answers it, authoritatively (AA) except for a referral; an AXFR or
IXFR that reaches this plugin (no *transfer* in the block, or one that does not cover the
zone) is REFUSED; a zone whose file could not be read yet answers SERVFAIL. A CNAME target
outside the zone is looked up through the server itself (`resolve`, set by the runtime) and
its answer appended, with its NXDOMAIN or SERVFAIL as the reply's rcode (RFC 6604); without a
resolver the CNAME is returned alone. `fallthrough` passes NXDOMAIN answers on.

Each file is read in `start()`; relative paths start from the block's *root*. Every `reload`
interval the file is read again and the zone replaced when its SOA serial changed (or, with
`reload_by_mtime`, its modification time); a file that fails to read keeps the zone served
and logs an error. The zones are offered to *transfer* (the Transferer capability), which
is told of each zone loaded and of each reload (the Notifier capability) to send NOTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import dnslib
import structlog

from kdns.plugins.base import (
    NOERROR,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Request,
    Resolver,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.file.config import FileConfig
from kdns.plugins.file.zone import Name, Result, Zone, name_of, within
from kdns.plugins.file.zonefile import Reader, ZoneFileError
from kdns.plugins.root import resolve_path

log = structlog.get_logger("plugin/file")

IXFR, AXFR = 251, 252


@dataclass(slots=True)
class Slot:
    """One zone of one `file` directive: where it comes from and what was last read."""

    origin: Name
    path: str
    config: FileConfig
    zone: Zone | None = None
    mtime: int = 0


def load(origin: Name, path: str) -> tuple[Zone, int]:
    """Read `path` with `origin`; return the zone and the file's mtime (ns).

    Raises OSError when the file cannot be opened and ZoneFileError when it is not valid.
    """
    mtime = os.stat(path).st_mtime_ns
    records = Reader(origin).read(path)
    try:
        return Zone(origin, records, path), mtime
    except ValueError as exc:
        raise ZoneFileError(str(exc)) from None


class File(Plugin[FileConfig]):
    """Answers from the zones of the block's `file` directives; reloads them when changed."""

    name = "file"

    def __init__(
        self,
        configs: tuple[FileConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.slots: dict[Name, Slot] = {}
        for config in configs:
            path = resolve_path(config.path, ctx.configs)
            for zone in config.zones:
                origin = name_of(dnslib.DNSLabel(zone))
                self.slots[origin] = Slot(origin, path, config)
        #: Zone origins, longest first, so the closest zone wins.
        self._order = sorted(self.slots, key=len, reverse=True)
        self.resolve: Resolver | None = None
        self._sleep = sleep
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners: list[Callable[[str], None]] = []

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Read every zone file and start the reload loops.

        A file that is missing is fatal with `reload 0` and a warning otherwise (the loop
        retries); a file with an error is fatal, as in CoreDNS.
        """
        for slot in self.slots.values():
            try:
                slot.zone, slot.mtime = await asyncio.to_thread(load, slot.origin, slot.path)
            except OSError as exc:
                message = f"Failed to open {slot.path!r}: {exc.strerror or exc}"
                if slot.config.reload == 0:
                    raise PluginError(self.name, message) from None
                log.warning(f"{message}: trying again in {slot.config.reload:g}s")
            except ZoneFileError as exc:
                raise PluginError(self.name, str(exc)) from None
        for slot in self.slots.values():
            self._announce(slot)
        for config in dict.fromkeys(s.config for s in self.slots.values()):
            if config.reload > 0:
                task = asyncio.create_task(self._watch(config), name=f"file reload {config.path}")
                self._tasks.append(task)

    async def stop(self) -> None:
        """Stop the reload loops."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, config: FileConfig) -> None:
        while True:
            await self._sleep(config.reload)
            for slot in self.slots.values():
                if slot.config is config:
                    await self.reload(slot)

    async def reload(self, slot: Slot) -> bool:
        """Read the slot's file again; swap the zone in if it changed. Tell whether it did."""
        try:
            zone, mtime = await asyncio.to_thread(load, slot.origin, slot.path)
        except OSError as exc:
            log.error(f"Failed to open zone {_text(slot.origin)} in {slot.path!r}: {exc}")
            return False
        except ZoneFileError as exc:
            log.error(f"Parsing zone {_text(slot.origin)}: {exc}")
            return False
        old = slot.zone
        changed = old is None or zone.serial != old.serial
        if not changed and slot.config.reload_by_mtime and mtime != slot.mtime:
            changed = True
        if not changed:
            return False
        slot.zone, slot.mtime = zone, mtime
        log.info(
            f"Successfully reloaded zone {zone.text} in {slot.path!r} with {zone.serial} SOA serial"
        )
        self._announce(slot)
        return True

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call `callback(zone)` for each zone loaded and on each reload (*transfer*'s NOTIFY);
        the zones already loaded are announced at once."""
        self._listeners.append(callback)
        for slot in self.slots.values():
            if slot.zone is not None:
                callback(_text(slot.origin).lower())

    def _announce(self, slot: Slot) -> None:
        if slot.zone is None:
            return
        for callback in self._listeners:
            try:
                callback(_text(slot.origin).lower())
            except Exception:  # a listener's failure must not stop serving or reloading
                log.exception("announcing a zone change failed", zone=_text(slot.origin))

    # -- queries -------------------------------------------------------------------------

    def _slot(self, qname: Name) -> Slot | None:
        for origin in self._order:
            if within(qname, origin):
                return self.slots[origin]
        return None

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer from the zone holding the name, or pass the query on (see the module doc)."""
        if not req.msg.questions:
            return await next_or_failure(self.name, self.next, req, w)
        qname = name_of(req.msg.questions[0].qname)
        slot = self._slot(qname)
        if slot is None:
            return await next_or_failure(self.name, self.next, req, w)
        if req.qtype in (AXFR, IXFR):
            return REFUSED
        zone = slot.zone
        if zone is None:
            return SERVFAIL
        result = zone.lookup(qname, req.qtype, req.do)
        fall = slot.config.fallthrough
        if result.kind == "nxdomain" and fall is not None and fall.covers(req.qname):
            return await next_or_failure(self.name, self.next, req, w)
        rcode = NXDOMAIN if result.kind == "nxdomain" else NOERROR
        if result.external is not None:
            rcode = await self._external(result, req.qtype)
        reply = req.reply(rcode, aa=result.kind != "delegation")
        reply.rr, reply.auth, reply.ar = result.answer, result.ns, result.extra
        req.answered_by = self.name
        w.write(reply)
        return NOERROR if rcode == SERVFAIL else rcode  # written: never "the server writes it"

    async def _external(self, result: Result, qtype: int) -> int:
        """Resolve the CNAME target through the server; return the rcode to reply with."""
        if self.resolve is None or result.external is None:
            return NOERROR
        try:
            found = await self.resolve(_text(result.external), qtype)
        except Exception:  # CoreDNS answers SERVFAIL with the CNAME when the lookup errs
            log.debug("resolving a CNAME target failed", exc_info=True)
            return SERVFAIL
        result.answer += found.rr
        rcode = int(found.header.rcode)
        return rcode if rcode in (NXDOMAIN, SERVFAIL) else NOERROR

    # -- transfer ------------------------------------------------------------------------

    def transfer(self, zone: str, serial: int = 0) -> list[dnslib.RR] | None:
        """Return the records of `zone` for AXFR/IXFR, or None when it is not a zone here."""
        slot = self.slots.get(name_of(dnslib.DNSLabel(zone)))
        if slot is None:
            return None
        if slot.zone is None:
            return []
        return slot.zone.transfer(serial)


def _text(name: Name) -> str:
    return str(dnslib.DNSLabel(name))
