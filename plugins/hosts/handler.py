"""hosts: answers A, AAAA and PTR from a hosts file and inline lines, as CoreDNS does.

CoreDNS's rules, kept here: names outside the zones go to the next plugin (PTR queries are
looked up whatever their zone); a PTR nobody has goes to the next plugin; a known name asked
for a type it lacks gets an authoritative NODATA; an unknown name gets SERVFAIL (there is no
SOA to build an NXDOMAIN from) unless `fallthrough` covers it. Owner names are the lower-cased
query name, as CoreDNS writes them (it answers with `state.Name()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable

import dnslib
import structlog

from kdns.corefile.syntax import in_zones
from kdns.plugins.base import (
    NOERROR,
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.hosts.answers import AAAA, PTR, A, Answers
from kdns.plugins.hosts.config import HostsConfig
from kdns.plugins.hosts.metrics import ENTRIES, RELOAD_TIMESTAMP
from kdns.plugins.hosts.store import HostsMap, inline_map, parse_hosts
from kdns.plugins.root import resolve_path

log = structlog.get_logger("plugin/hosts")

#: (mtime in ns, size): how CoreDNS decides that the file changed.
Stamp = tuple[int, int]


class Hosts(Plugin[HostsConfig]):
    """Serves the hosts data; reloads the file in the background when it changes."""

    name = "hosts"

    def __init__(
        self,
        configs: tuple[HostsConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        config = self.config
        self.path = resolve_path(config.path, ctx.configs)  # relative: from the block's root
        self.zones = config.zones
        self._all_zones = "." in config.zones
        self._fall = config.fallthrough
        # CoreDNS: fallthrough_unsupported needs fallthrough and uses its zones.
        self._fall_unsupported = config.fallthrough_unsupported and config.fallthrough is not None
        self.inline = inline_map(config.entries, config.zones, not config.no_reverse)
        self.data = Answers(HostsMap(), self.inline, config.ttl)
        self._stamp: Stamp | None = None
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    @property
    def answers(self) -> dict[tuple[str, int], tuple[dnslib.RR, ...]]:
        """Return the ready answers per (lower-case name, qtype) of the current data."""
        return self.data.answers

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Read the file (a missing one is a warning) and start the reload loop."""
        if not os.path.exists(self.path):
            log.warning(f"File does not exist: {self.path}")
        elif os.path.isdir(self.path):
            log.warning(f'Hosts file "{self.path}" is a directory')
        await self.reload()
        if self.config.reload > 0:
            self._task = asyncio.create_task(self._watch(), name=f"hosts reload {self.path}")

    async def stop(self) -> None:
        """Stop the reload loop."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        while True:
            await self._sleep(self.config.reload)
            try:
                await self.reload()
            except Exception:  # keep serving the last good data, as CoreDNS does
                log.exception(f"reloading {self.path} failed")

    async def reload(self) -> bool:
        """Re-read the file if its modification time or size changed; tell whether it did."""
        loaded = await asyncio.to_thread(self._read_if_changed, self._stamp)
        if loaded is None:
            return False
        stamp, file = loaded
        self._stamp = stamp
        self.data = Answers(file, self.inline, self.config.ttl)
        ENTRIES.set((self.path,), float(len(self.inline) + len(file)))
        RELOAD_TIMESTAMP.set((), stamp[0] / 1e9)
        return True

    def _read_if_changed(self, known: Stamp | None) -> tuple[Stamp, HostsMap] | None:
        # An unreadable or vanished file keeps the entries last read (CoreDNS returns early).
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp == known:
                    return None
                raw = f.read()
        except OSError:
            return None
        text = raw.decode("utf-8", "surrogateescape")
        return stamp, parse_hosts(text, self.zones, not self.config.no_reverse)

    # -- queries -------------------------------------------------------------------------------

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer from the hosts data, or pass the query on (see the module doc)."""
        qname, qtype = req.qname, req.qtype
        data = self.data
        rrs = data.answers.get((qname, qtype))
        if rrs is not None:
            return self._write(req, w, rrs)
        if qtype == PTR:
            rrs = data.reverse(qname)
            if rrs:
                return self._write(req, w, rrs)
            return await next_or_failure(self.name, self.next, req, w)
        if not self._all_zones and not in_zones(qname, self.zones):
            return await next_or_failure(self.name, self.next, req, w)
        if data.has_wild and qtype in (A, AAAA):
            rrs = data.wildcard(qname, qtype)
            if rrs:
                return self._write(req, w, rrs)
        fall = self._fall
        if data.exists(qname):
            if (
                self._fall_unsupported
                and qtype != A
                and qtype != AAAA
                and fall is not None
                and fall.covers(qname)
            ):
                return await next_or_failure(self.name, self.next, req, w)
            return self._write(req, w, ())
        if fall is not None and fall.covers(qname):
            return await next_or_failure(self.name, self.next, req, w)
        return SERVFAIL

    def _write(self, req: Request, w: ResponseWriter, rrs: tuple[dnslib.RR, ...]) -> int:
        reply = req.reply(NOERROR, aa=True)
        reply.rr = list(rrs)
        req.answered_by = self.name
        w.write(reply)
        return NOERROR
