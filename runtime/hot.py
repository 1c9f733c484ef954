"""The hot path: a reply the fast path gave is sent again for the same query bytes, ID aside.

Most cluster DNS traffic is the same few questions asked over and over, byte for byte but for
the message ID. After the fast path (dispatch.ZoneMux.fast) has answered a query from bytes, and
the answering plugin says for how long that answer stays the same (FastReuse: a cache entry
until its TTL next ticks down, a ready kubernetes answer until a watch event drops it or moves
the SOA serial it carries), the reply is kept under the query's bytes after the ID. The next
identical query is answered with a dictionary lookup and a two-byte splice. When a cache hit's
TTL ticks down, the entry's TTL fields are rewritten in place (Renewable) rather than the
answer built again: the entries filled together would otherwise all go cold in the same
instant, every second. The same holds past the cache entry's expiry while the answer it was
filled from is unchanged (Entry.source). (Entries with loadbalance's copies are built again,
with new orders.)

What the fast path does per answer is kept up, only deferred: each entry counts its hits (per
address family), and `flush` hands them, as counts, to the observers (prometheus), to the
answerer's own per-answer counting (cache hits) and to the answerers passed on the way
(cache misses). The metrics registry flushes before every scrape. The duration recorded for a
reused answer is the time the fast path took to build it (both far below the first bucket).
The answer that fills an entry is counted with its hits when the answerer counts nothing per
answer of its own (a ready kubernetes answer): a name's first query then adds no metrics work.

loadbalance in front: the fast path's shuffle runs on each of `VARIANTS` copies made when the
entry is filled, and the entry sends them in turn (DESIGN.md: "pre-rendered rotations").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, cast

from kdns.plugins.base import FastObserver, FastPass, Fresh, Renewable

#: How many differently shuffled copies an entry keeps when loadbalance is in front.
VARIANTS: Final = 8
#: Entries per table; past it the oldest is flushed and dropped.
CAPACITY: Final = 20_000


class Accounting:
    """What one answer counts: the labels the observers take, and who else counts it (one is
    made per answer the fast path builds: a plain class, which the compiled build (setup.py)
    makes without a Python call)."""

    __slots__ = (
        "do",
        "observers",
        "passed",
        "plugin",
        "proto",
        "qtype",
        "rcode",
        "repeat",
        "request_size",
        "response_size",
        "seconds",
        "server",
        "zone",
    )

    def __init__(
        self,
        server: str,
        zone: str,
        proto: str,
        qtype: int,
        do: bool,
        request_size: int,
        response_size: int,
        rcode: int,
        plugin: str,
        seconds: float,
        observers: tuple[FastObserver, ...],
        passed: tuple[FastPass, ...],
        repeat: Callable[[int], None],
    ) -> None:
        self.server = server
        self.zone = zone
        self.proto = proto
        self.qtype = qtype
        self.do = do
        self.request_size = request_size
        self.response_size = response_size
        self.rcode = rcode
        self.plugin = plugin
        self.seconds = seconds
        self.observers = observers
        self.passed = passed
        self.repeat = repeat

    def handed(
        self, plugin: str, passed: tuple[FastPass, ...], repeat: Callable[[int], None]
    ) -> Accounting:
        """The same answer counted as `plugin`'s, with its own passers and repeat counter."""
        return Accounting(
            self.server,
            self.zone,
            self.proto,
            self.qtype,
            self.do,
            self.request_size,
            self.response_size,
            self.rcode,
            plugin,
            self.seconds,
            self.observers,
            passed,
            repeat,
        )

    def observe(self, family: str, count: int = 1) -> None:
        """Hand `count` answers to clients of `family` ("1" IPv4, "2" IPv6) to the observers."""
        for observer in self.observers:
            observer.observe(
                self.server,
                self.zone,
                "",
                self.proto,
                family,
                self.qtype,
                self.do,
                self.request_size,
                self.response_size,
                self.rcode,
                self.plugin,
                self.seconds,
                count,
            )


class HotEntry:
    """One reply kept for one query's bytes."""

    __slots__ = ("accounting", "fresh", "hits4", "hits6", "offsets", "tail", "turn", "variants")

    def __init__(
        self, tail: bytes, variants: tuple[bytes, ...], fresh: Fresh, accounting: Accounting
    ) -> None:
        #: The reply's bytes after the ID.
        self.tail = tail
        #: With loadbalance in front, the differently shuffled copies (bytes after the ID) sent
        #: in turn, `tail` the first of them; else empty.
        self.variants = variants
        self.turn = 0
        self.fresh = fresh
        self.accounting = accounting
        #: Answers sent from this entry and not yet counted, to IPv4 and to IPv6 clients (two
        #: plain fields, not a list: one object less per entry for the collector).
        self.hits4 = 0
        self.hits6 = 0
        #: Where the tail's TTLs sit, found at the first renewal.
        self.offsets: tuple[int, ...] | None = None

    def renew(self) -> bool:
        """Bring a stale entry up to date when only its TTLs moved (Renewable); False if not."""
        fresh = self.fresh
        renew = getattr(fresh, "renew", None)  # not isinstance: a Protocol check costs more
        if renew is None or self.variants:
            return False  # loadbalance's copies: built again, so the orders stay fresh too
        ttl = renew()
        if ttl is None:
            return False
        if self.offsets is None:  # the tail starts after the ID
            self.offsets = tuple(o - 2 for o in cast(Renewable, fresh).ttl_offsets)
        tail, packed = self.tail, ttl.to_bytes(4, "big")
        parts: list[bytes] = []
        done = 0
        for at in self.offsets:
            parts += (tail[done:at], packed)
            done = at + 4
        parts.append(tail[done:])
        self.tail = b"".join(parts)
        return True

    def flush(self) -> None:
        """Count the answers sent since the last flush, as the fast path would have."""
        hits4, hits6, acc = self.hits4, self.hits6, self.accounting
        total = hits4 + hits6
        if not total:
            return
        self.hits4 = self.hits6 = 0
        if hits4:
            acc.observe("1", hits4)
        if hits6:
            acc.observe("2", hits6)
        for passed in acc.passed:
            passed.fast_passed(acc.server, total)
        acc.repeat(total)


class HotTable:
    """Hot entries of one listener and transport, by query bytes after the ID."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.entries: dict[bytes, HotEntry] = {}

    def answer(self, wire: bytes, v6: bool) -> bytes | None:
        """Return the reply to `wire` if a fresh entry holds it (and count it for an IPv4 or
        IPv6 client), else None."""
        entry = self.entries.get(wire[2:])
        if entry is None:
            return None
        if not entry.fresh.fresh() and not entry.renew():
            entry.flush()
            del self.entries[wire[2:]]
            return None
        if v6:
            entry.hits6 += 1
        else:
            entry.hits4 += 1
        variants = entry.variants
        if not variants:
            return wire[:2] + entry.tail
        turn = entry.turn
        entry.turn = (turn + 1) % len(variants)
        return wire[:2] + variants[turn]

    def keep(
        self,
        wire: bytes,
        replies: list[bytes],
        fresh: Fresh,
        acc: Accounting,
        uncounted: bool | None = None,
    ) -> None:
        """Keep `replies` (variants of one answer) for later queries equal to `wire`.

        `uncounted`: the answer just sent is not counted yet; the entry counts it as a hit
        for a client of IPv4 (False) or IPv6 (True), as it counts the hits to come.
        """
        key = wire[2:]
        old = self.entries.get(key)  # not pop(key, None): a method call from compiled code
        if old is not None:
            old.flush()
            del self.entries[key]  # the new one goes last, as the newest
        elif len(self.entries) >= self.capacity:
            oldest = next(iter(self.entries))
            self.entries.pop(oldest).flush()
        variants = tuple(r[2:] for r in replies) if len(replies) > 1 else ()
        tail = variants[0] if variants else replies[0][2:]
        entry = self.entries[key] = HotEntry(tail, variants, fresh, acc)
        if uncounted:
            entry.hits6 = 1
        elif uncounted is not None:
            entry.hits4 = 1

    def flush(self) -> None:
        """Count every entry's pending answers."""
        for entry in list(self.entries.values()):
            entry.flush()
