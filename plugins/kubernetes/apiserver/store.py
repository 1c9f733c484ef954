"""Objects kept as dicts with their JSON pre-serialised, a global resourceVersion, event windows.

Each resource has a `Collection`: the current objects by (namespace, name), their keys in the
etcd order lists use, and the last `window` events so a watch can resume from a
resourceVersion. A resume from before the window is answered 410 Gone, as the real watch cache
does.
"""

from __future__ import annotations

import asyncio
import bisect
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from kdns.plugins.kubernetes.apiserver.resources import RESOURCES, Resource

Obj = dict[str, Any]
Key = tuple[str, str]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


def dumps(obj: Any) -> bytes:
    """Serialise compactly, as the API server does."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def key_of(obj: Obj) -> Key:
    """The (namespace, name) key of an object ("" namespace for cluster-scoped)."""
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


@dataclass(slots=True)
class Entry:
    """One stored object: the dict (never mutated once stored), its JSON and its version."""

    obj: Obj
    raw: bytes
    rv: int


@dataclass(frozen=True, slots=True)
class Event:
    """A change to one object; `old` is the object before it (None for ADDED)."""

    rv: int
    type: EventType
    entry: Entry
    old: Entry | None
    line: bytes = field(repr=False)


class Expired(Exception):
    """A resourceVersion older than the kept event window."""

    def __init__(self, asked: int, oldest: int):
        super().__init__(f"too old resource version: {asked} ({oldest})")
        self.asked = asked
        self.oldest = oldest


class Collection:
    """The objects of one resource and its recent events."""

    def __init__(self, resource: Resource, window: int):
        self.resource = resource
        self.window = max(window, 1)
        self.items: dict[Key, Entry] = {}
        self._sorted: list[Key] | None = []
        self._events: list[Event] = []
        self._rvs: list[int] = []
        self._head = 0
        #: Events with rv <= compacted may be missing: a watch must start at or after it.
        self.compacted = 0
        self.changed = asyncio.Event()

    def sorted_keys(self) -> list[Key]:
        """Keys in list order (namespace, then name)."""
        if self._sorted is None:
            self._sorted = sorted(self.items)
        return self._sorted

    def _record(self, event: Event) -> None:
        self._events.append(event)
        self._rvs.append(event.rv)
        if len(self._events) - self._head > self.window:
            self.compacted = self._rvs[self._head]
            self._head += 1
            if self._head >= self.window:
                del self._events[: self._head]
                del self._rvs[: self._head]
                self._head = 0
        self.notify()

    def notify(self) -> None:
        """Wake every watch of this resource (they re-read the log)."""
        self.changed.set()
        self.changed = asyncio.Event()

    def since(self, rv: int) -> list[Event]:
        """Events after `rv`; raise Expired if some of them are no longer kept."""
        if rv < self.compacted:
            raise Expired(rv, self.compacted + 1)
        start = bisect.bisect_right(self._rvs, rv, lo=self._head)
        return self._events[start:]

    def compact(self, rv: int) -> None:
        """Forget every event; a watch must now start at `rv` or later."""
        self._events.clear()
        self._rvs.clear()
        self._head = 0
        self.compacted = rv

    def set(self, entry: Entry) -> None:
        """Store an entry without recording an event (bulk load)."""
        key = key_of(entry.obj)
        if key not in self.items:
            self._insert_key(key)
        self.items[key] = entry

    def _insert_key(self, key: Key) -> None:
        if self._sorted is not None:
            if len(self._sorted) < 4096 or (self._sorted and key > self._sorted[-1]):
                bisect.insort(self._sorted, key)
            else:
                self._sorted = None

    def _remove_key(self, key: Key) -> None:
        if self._sorted is not None:
            index = bisect.bisect_left(self._sorted, key)
            if index < len(self._sorted) and self._sorted[index] == key:
                del self._sorted[index]


class Store:
    """Every collection and the resourceVersion counter they share (etcd's revision)."""

    def __init__(self, window: int = 1000):
        self.rv = 0
        self.collections = {plural: Collection(r, window) for plural, r in RESOURCES.items()}

    def __getitem__(self, plural: str) -> Collection:
        return self.collections[plural]

    def get(self, plural: str, key: Key) -> Entry | None:
        """The stored entry at `key`, if any."""
        return self.collections[plural].items.get(key)

    def put(self, plural: str, obj: Obj, *, record: bool = True) -> Event | None:
        """Store `obj` (owned by the store from now on) with a new resourceVersion.

        An update that changes nothing but the resourceVersion is a no-op and returns None,
        as on the real server.
        """
        coll = self.collections[plural]
        key = key_of(obj)
        old = coll.items.get(key)
        meta = obj["metadata"]
        if old is not None:
            meta["resourceVersion"] = str(old.rv)
            if obj == old.obj:
                return None
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        entry = Entry(obj, dumps(obj), self.rv)
        if old is None:
            coll._insert_key(key)
        coll.items[key] = entry
        if not record:
            return None
        kind: EventType = "ADDED" if old is None else "MODIFIED"
        event = Event(self.rv, kind, entry, old, _line(kind, entry.raw))
        coll._record(event)
        return event

    def delete(self, plural: str, key: Key) -> Event | None:
        """Remove the object at `key`; the DELETED event carries it at a new version."""
        coll = self.collections[plural]
        old = coll.items.pop(key, None)
        if old is None:
            return None
        coll._remove_key(key)
        self.rv += 1
        obj = {**old.obj, "metadata": {**old.obj["metadata"], "resourceVersion": str(self.rv)}}
        entry = Entry(obj, dumps(obj), self.rv)
        event = Event(self.rv, "DELETED", entry, old, _line("DELETED", entry.raw))
        coll._record(event)
        return event

    def compact(self, *, bump: bool = False) -> int:
        """Drop every kept event (optionally after a fresh version); return the new floor."""
        if bump:
            self.rv += 1
        for coll in self.collections.values():
            coll.compact(self.rv)
        return self.rv


def _line(kind: str, raw: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + raw + b"}\n"
