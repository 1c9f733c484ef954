"""One watch stream: JSON lines over chunked encoding, from a resourceVersion, with bookmarks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kdns.plugins.kubernetes.apiserver import http
from kdns.plugins.kubernetes.apiserver.errors import status
from kdns.plugins.kubernetes.apiserver.selectors import Filter
from kdns.plugins.kubernetes.apiserver.store import Collection, Event, Expired, Store, dumps
from kdns.plugins.kubernetes.apiserver.table import table

Obj = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _line(kind: str, raw: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + raw + b"}\n"


class Watch:
    """A watch in progress; `stop()` ends it (cleanly, or by dropping the connection)."""

    def __init__(
        self,
        store: Store,
        coll: Collection,
        flt: Filter,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        since: int | None,
        bookmarks: bool,
        timeout: float | None,
        as_table: bool,
        initial_end_bookmark: bool,
        bookmark_interval: float,
        now: Callable[[], datetime],
    ):
        self.store = store
        self.coll = coll
        self.flt = flt
        self.reader = reader
        self.writer = writer
        self.client_gone = False
        self.since = since
        self.bookmarks = bookmarks
        self.timeout = timeout
        self.as_table = as_table
        self.initial_end_bookmark = initial_end_bookmark
        self.bookmark_interval = bookmark_interval
        self.now = now
        self.stopped = False
        self.aborted = False
        self.bookmark_due = False
        self.expire_with: int | None = None
        #: Fault: at the next event, send half its line and then drop the connection
        #: ("abort") or end the body cleanly ("end"); None streams normally.
        self.tear: str | None = None
        self._trivial = flt.namespace is None and not flt.selects

    def stop(self, *, abort: bool) -> None:
        """End the stream: abort drops the connection, else the stream ends with its last
        chunk and the connection closes."""
        self.stopped = True
        if abort:
            self.aborted = True
            self.writer.transport.abort()
        self.coll.notify()

    def expire(self, floor: int) -> None:
        """End the stream with an ERROR 410 event, as when the client fell out of the window."""
        self.expire_with = floor
        self.coll.notify()

    def _render(self, event: Event) -> bytes | None:
        kind: str = event.type
        if not self._trivial:
            new_ok = self.flt.matches(event.entry.obj)
            old_ok = event.old is not None and self.flt.matches(event.old.obj)
            if kind == "DELETED":
                if not old_ok:
                    return None
            elif kind == "MODIFIED" and not (new_ok and old_ok):
                if new_ok:
                    kind = "ADDED"
                elif old_ok:
                    kind = "DELETED"
                else:
                    return None
            elif not new_ok:
                return None
        if self.as_table:
            meta = {"resourceVersion": str(event.rv)}
            raw = table([event.entry.obj], self.coll.resource.kind, self.now(), meta)
            return _line(kind, raw)
        return event.line if kind == event.type else _line(kind, event.entry.raw)

    def _bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(rv), "creationTimestamp": None}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {
            "kind": self.coll.resource.kind,
            "apiVersion": self.coll.resource.api_version,
            "metadata": meta,
        }
        return _line("BOOKMARK", dumps(obj))

    def _error(self, err: Expired) -> bytes:
        return _line("ERROR", dumps(status(410, str(err), "Expired")))

    def _initial(self) -> list[bytes]:
        lines = []
        for key in self.coll.sorted_keys():
            entry = self.coll.items[key]
            if self.flt.matches(entry.obj):
                if self.as_table:
                    meta = {"resourceVersion": str(entry.rv)}
                    raw = table([entry.obj], self.coll.resource.kind, self.now(), meta)
                else:
                    raw = entry.raw
                lines.append(_line("ADDED", raw))
        return lines

    def _hang_up(self, task: asyncio.Task[bytes]) -> None:
        # The client sends nothing during a watch: EOF (or anything) means it is done with it.
        if not task.cancelled():
            self.client_gone = self.stopped = True
            self.coll.notify()

    async def _tear(self, line: bytes) -> None:
        """Send the first half of an event's line, then end the stream as `tear` says."""
        w = self.writer
        w.write(http.chunk(line[: len(line) // 2]))
        await w.drain()
        self.stopped = True
        if self.tear == "abort":
            # abort() throws away what is still buffered: let the half line leave first.
            for _ in range(100):
                if not w.transport.get_write_buffer_size():
                    break
                await asyncio.sleep(0.001)
            self.aborted = True
            w.transport.abort()

    async def run(self) -> bool:
        """Stream until timeout or stop; return whether the connection can serve more."""
        listen = asyncio.create_task(self.reader.read(1))
        listen.add_done_callback(self._hang_up)
        try:
            return await self._run()
        finally:
            listen.cancel()

    async def _run(self) -> bool:
        w = self.writer
        w.write(http.chunked_head())
        start = time.monotonic()
        deadline = start + self.timeout if self.timeout else None
        next_bookmark = start + self.bookmark_interval
        if self.since is None:
            lines = self._initial()
            cursor = self.store.rv
            if self.initial_end_bookmark:
                lines.append(self._bookmark(cursor, initial_end=True))
            if lines:
                w.write(http.chunk(b"".join(lines)))
        else:
            cursor = self.since
        while not self.stopped:
            seen = self.store.rv
            try:
                if self.expire_with is not None:
                    raise Expired(cursor, self.expire_with)
                events = self.coll.since(cursor)
            except Expired as err:
                w.write(http.chunk(self._error(err)))
                break
            changed = self.coll.changed
            out = [line for ev in events if (line := self._render(ev)) is not None]
            if out and self.tear is not None:
                await self._tear(out[0])
                break
            if events:
                cursor = events[-1].rv
            now = time.monotonic()
            if self.bookmarks and (self.bookmark_due or now >= next_bookmark):
                out.append(self._bookmark(max(cursor, seen)))
                self.bookmark_due = False
                next_bookmark = now + self.bookmark_interval
            if out:
                w.write(http.chunk(b"".join(out)))
            await w.drain()
            if deadline is not None and now >= deadline:
                break
            wait = next_bookmark - now if self.bookmarks else None
            if deadline is not None:
                wait = deadline - now if wait is None else min(wait, deadline - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()
        if self.aborted or self.client_gone:
            return False
        w.write(http.LAST_CHUNK)
        await w.drain()
        return not self.stopped and self.expire_with is None
