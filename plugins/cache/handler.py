"""cache: answers repeated questions from packed replies, as CoreDNS's cache plugin does.

CoreDNS's rules, kept here: the key is the lower-case qname, qtype, qclass and the DO and CD
bits; the denial bucket is looked at before the success bucket; truncated replies, errors other
than SERVFAIL/NOTIMP, transfers, NOTIFY and UPDATE are never stored; an item lives for the
lowest TTL of its records, clamped to the bucket's [MINTTL, TTL] (SERVFAIL: the `servfail`
duration), and the reply written on the miss carries that TTL on every record already. A hit
returns NOERROR to the chain whatever the cached rcode, as CoreDNS does.

Two ways in: `serve_dns` for the chain, and `fast_answer`, which the runtime calls with the
raw query before parsing it. Both build the answer from the same stored bytes.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Final

import dnslib
import structlog

from kdns.corefile.syntax import in_zones, longest_zone
from kdns.plugins.base import (
    NOERROR,
    BuildContext,
    Fresh,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.cache.classify import (
    AXFR,
    DENIAL_KINDS,
    IXFR,
    MAXIMAL_TTL,
    NXDOMAIN,
    OPT,
    RRSIG,
    SOA,
    SUCCESS_KINDS,
    Kind,
    clamp,
    minimal_ttl,
    typify,
)
from kdns.plugins.cache.config import CacheConfig
from kdns.plugins.cache.metrics import (
    DROPS,
    ENTRIES,
    EVICTIONS,
    HITS,
    MISSES,
    PREFETCHES,
    REQUESTS,
    SERVED_STALE,
)
from kdns.plugins.cache.store import Shards
from kdns.plugins.cache.writer import CacheWriter
from kdns.plugins.packed import Entry, make_entry
from kdns.plugins.wire import Key, name_wire, records

log = structlog.get_logger("plugin/cache")

Labels = tuple[str, str, str]
#: Parent names whose fast_passes answer a cache keeps (then it starts over).
PARENTS: Final = 4096


def request_key(req: Request) -> Key:
    """Return the cache key of a parsed request (the same key `query_key` reads from bytes)."""
    qname = name_wire(tuple(req.msg.questions[0].qname.label)).lower()
    return (qname, req.qtype, req.qclass, req.do, bool(req.msg.header.cd))


class _Hit:
    """A hit sent from bytes: the same until its TTL next ticks down (Fresh), then the same
    but for the TTL while its entry stays in the cache and unexpired (Renewable)."""

    __slots__ = ("cache", "entry", "until")

    def __init__(self, cache: Cache, entry: Entry, now: float) -> None:
        self.cache = cache
        self.entry = entry
        self.until = entry.stored + int(now - entry.stored) + 1

    @property
    def ttl_offsets(self) -> tuple[int, ...]:
        """Where the hit's TTLs sit: the entry's (a hit is the entry's bytes, OPT after)."""
        return self.entry.offsets

    def fresh(self) -> bool:
        """Tell whether the TTL has not ticked down since."""
        return self.cache.clock() < self.until

    def renew(self) -> int | None:
        """Return the TTL the hit carries now, or None if its entry is gone or expired."""
        cache, entry = self.cache, self.entry
        if entry.gone:
            return None
        # While a hit is kept, nothing else is stored under its key without replacing it (a
        # store follows a miss, and there is no prefetch): its own entry is what lookup finds.
        now = cache.clock()
        if not cache.usable(entry, now):  # (renews it if its source still holds)
            return None
        ttl = entry.remaining(now)
        if ttl <= 0:
            return None
        self.until = entry.stored + int(now - entry.stored) + 1
        return entry.ttl if cache.config.keepttl else ttl


def _count_hits(labels: Labels, hit_labels: tuple[str, str, str, str], count: int) -> None:
    """Count `count` more hits, as fast_answer counts each."""
    REQUESTS.inc(labels, count)
    HITS.inc(hit_labels, count)


def _wire_zones(zones: tuple[str, ...]) -> frozenset[bytes]:
    """Return lower-case zones as wire-format names."""
    return frozenset(
        name_wire(tuple(x.encode() for x in z.lower().rstrip(".").split(".") if x)) for z in zones
    )


def _suffixes(name: bytes) -> Iterator[bytes]:
    """Yield a wire-format name and each of its parents, down to the root."""
    i = 0
    while True:
        yield name[i:]
        if not name[i]:
            return
        i += name[i] + 1


def _passing(
    zones: frozenset[bytes], no_success: frozenset[bytes], no_denial: frozenset[bytes]
) -> dict[bytes, bool]:
    """Return, for every zone the three sets name, whether the cache passes the names whose
    nearest such zone it is: outside `zones`, or under both a `disable success` and a
    `disable denial` zone."""
    out = {}
    for zone in zones | no_success | no_denial:
        parents = set(_suffixes(zone))
        cached = not parents.isdisjoint(zones)
        out[zone] = not cached or (
            not parents.isdisjoint(no_success) and not parents.isdisjoint(no_denial)
        )
    return out


def _under(qname: bytes, zones: frozenset[bytes]) -> bool:
    """Tell whether a lower-case wire-format name is at or below one of `zones`."""
    if not zones:
        return False
    i = 0
    while True:
        if qname[i:] in zones:
            return True
        if not qname[i]:
            return False
        i += qname[i] + 1


def _matches(req: Request, reply: dnslib.DNSRecord) -> bool:
    """Tell whether `reply` answers `req`'s question (CoreDNS's request.Match, plus class)."""
    if len(reply.questions) != 1 or not reply.header.qr:
        return False
    q = reply.questions[0]
    return str(q.qname).lower() == req.qname and q.qtype == req.qtype and q.qclass == req.qclass


class Cache(Plugin[CacheConfig]):
    """The cache handler: serves hits from wire bytes, stores what the chain answers."""

    name = "cache"

    def __init__(
        self,
        configs: tuple[CacheConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        config = self.config
        self.zones = config.zones
        self.zones_label = ",".join(config.zones)
        self.success = Shards(config.success.capacity)
        self.denial = Shards(config.denial.capacity)
        #: Monotonic seconds for TTLs (fast_answer's `now` must come from the same clock).
        self.clock = clock
        #: Wall-clock seconds, for RRSIG validity only.
        self.wall = wall
        #: The listener label fast_answer counts under when the caller names none.
        self.server = ctx.servers[0] if ctx.servers else ""
        stale = config.serve_stale
        self.stale_up_to = int(stale.duration) if stale is not None else 0
        self.verify_stale = stale is not None and stale.refresh_mode == "verify"
        prefetch = config.prefetch
        self.prefetch_amount = prefetch.amount if prefetch is not None else 0
        self.prefetch_window = prefetch.duration if prefetch is not None else 60.0
        self.prefetch_fraction = prefetch.percentage / 100 if prefetch is not None else 0.1
        self._tasks: set[asyncio.Task[None]] = set()
        self._reuse: tuple[_Hit, Callable[[int], None]] | None = None
        self._refreshing: set[Key] = set()
        # zones in wire format for fast_passes: a name passes only if it is never stored
        self._no_success = _wire_zones(config.disable_success)
        self._no_denial = _wire_zones(config.disable_denial)
        self._passing = _passing(_wire_zones(config.zones), self._no_success, self._no_denial)
        #: fast_passes's answers for parent names, up to PARENTS of them.
        self._parents: dict[bytes, bool] = {}
        # the metric labels of fast_answer hits, built once
        self._labels: Labels = (self.server, self.zones_label, "")
        self._hit_labels = {
            k: (self.server, k, self.zones_label, "") for k in ("success", "denial")
        }

    # -- lookups -------------------------------------------------------------------------------

    def usable(self, entry: Entry | None, now: float) -> bool:
        """Tell whether `entry` may answer at `now` (renewing it if its source holds)."""
        if entry is None:
            return False
        ttl = entry.remaining(now)
        if ttl > 0:
            return True
        source = entry.source
        if source is not None:
            if source.fresh():  # a refill would store the same bytes: renew in place
                entry.stored = now
                return True
            entry.source = None
        return self.stale_up_to > 0 and -ttl < self.stale_up_to

    def lookup(self, key: Key, now: float) -> Entry | None:
        """Return the entry to answer `key` with: fresh, or stale within serve_stale.

        An expired entry the fast path filled from an answer that has not changed since
        (Entry.source: a kubernetes ready answer no watch event has touched) is renewed
        instead, as a refill would have stored it: same bytes, a full TTL."""
        entry = self.denial.get(key)
        if self.usable(entry, now):
            return entry
        entry = self.success.get(key)
        return entry if self.usable(entry, now) else None

    # -- the fast path -------------------------------------------------------------------------

    def fast_answer(
        self,
        key: Key,
        wire: bytes,
        now: float,
        server: str | None = None,
        remote: tuple[str, int] = ("0.0.0.0", 0),
        tcp: bool = False,
    ) -> bytes | None:
        """Answer a raw query from the store, or return None to send it down the chain.

        `key` comes from `wire.query_key(wire)`, `now` from this handler's clock. None when
        there is no usable entry, when serve_stale verify must ask upstream first, when the
        reply would not fit the client's buffer (the normal path truncates), or when a
        client's differently-cased question cannot be echoed by copying bytes. A hit counts
        the cache metrics (view "") and starts prefetches like the chain does.
        """
        entry = self.lookup(key, now)
        if entry is None:
            return None
        ttl = entry.remaining(now)
        if ttl <= 0 and self.verify_stale:
            return None
        fit = entry.fit(wire, key[3], tcp)
        if fit is None:
            return None
        qname, opt = fit
        if server is None or server == self.server:
            labels, hit_labels = self._labels, self._hit_labels
        else:
            labels = (server, self.zones_label, "")
            hit_labels = {k: (server, k, self.zones_label, "") for k in ("success", "denial")}
        REQUESTS.inc(labels)
        HITS.inc(hit_labels[entry.kind])
        remaining = ttl
        ttl, refresh = self._serve_ttl(entry, ttl, now, labels)
        self._reuse = None
        if remaining > 0 and not refresh and not self.prefetch_amount:
            # the same bytes until the TTL next ticks down; prefetch needs every hit counted
            count = partial(_count_hits, labels, hit_labels[entry.kind])
            self._reuse = (_Hit(self, entry, now), count)
        if refresh and key not in self._refreshing:
            req = Request(dnslib.DNSRecord.parse(wire), "tcp", remote, size=len(wire))
            req.server = labels[0]
            req.zone = longest_zone(req.qname, self.ctx.zones) or "."
            self._refresh_later(key, entry, now, labels, req)
        return entry.render(wire[0:2], (wire[2] << 8) | wire[3], qname, ttl, opt, key[3])

    def fast_reuse(self) -> tuple[_Hit, Callable[[int], None]] | None:
        """Return how long the hit just given stays the same, and how to count it again."""
        return self._reuse

    def fast_passes(self, key: Key) -> bool:
        """Tell whether the chain would only pass this query on: a name it never stores.

        True for names outside the cache's zones, and for names under both a `disable
        success` and a `disable denial` zone (kubeadm's `cluster.local`): the plugin behind
        may then answer on the fast path.
        """
        qname = key[0]
        found = self._passing.get(qname)
        if found is not None or not qname[0]:
            return found is not False
        # below the name itself, its parent decides (kept: names share a few parents)
        parent = qname[qname[0] + 1 :]
        found = self._parents.get(parent)
        if found is None:
            found = self._passes(parent)
            if len(self._parents) >= PARENTS:
                self._parents.clear()
            self._parents[parent] = found
        return found

    def _passes(self, qname: bytes) -> bool:
        """fast_passes for a lower-case wire-format name: the nearest zone decides."""
        for name in _suffixes(qname):
            found = self._passing.get(name)
            if found is not None:
                return found
        return True

    def fast_fill(
        self,
        key: Key,
        wire: bytes,
        reply: bytes,
        now: float,
        *,
        server: str | None = None,
        tcp: bool = False,
        source: Fresh | None = None,
    ) -> bytes | None:
        """Store what the answerer behind gave a raw query on the fast path, as a miss through
        the chain stores it, and return the reply with the capped TTLs.

        `source`: how long the answerer's reply stays the same (its fast_reuse), kept with the
        entry so that an expired entry is renewed rather than filled again (lookup).

        Only the plain kinds are taken here (an answer, NXDOMAIN or NODATA with the SOA, no
        RRSIG, whose validity the chain checks); None sends the query down the chain, and so
        does a usable entry (a hit with a case or size the bytes cannot serve, serve_stale
        verify).
        """
        self._reuse = None
        if reply[2] & 0x7A or key[1] in (AXFR, IXFR):  # opcode, TC; transfers
            return None
        if self.lookup(key, now) is not None:
            return None
        try:
            qend, (answer, authority, extra) = records(reply)
        except ValueError:
            return None
        body = reply
        if extra and extra[-1][3] == OPT:  # the client's OPT: EDNS is hop-by-hop
            body = reply[: extra[-1][0]]
            extra = extra[:-1]
            body = body[:10] + len(extra).to_bytes(2, "big") + body[12:]
        found = [rr for section in (answer, authority, extra) for rr in section]
        types = {rr[3] for rr in found}
        if OPT in types or RRSIG in types:
            return None
        rcode = reply[3] & 0xF
        if answer and rcode == 0:
            success = True
        elif rcode in (0, NXDOMAIN) and any(rr[3] == SOA for rr in authority):
            success = False
        else:
            return None  # delegations, errors: the chain's rules
        lowest = min([MAXIMAL_TTL, *(int.from_bytes(body[f + 4 : f + 8]) for _, f, _, _ in found)])
        bucket = self.config.success if success else self.config.denial
        ttl = clamp(lowest, bucket.min_ttl, bucket.max_ttl)
        if ttl <= 0:
            return None
        entry = Entry(
            bytes(body),
            tuple(f + 4 for _, f, _, _ in found),
            qend,
            ttl=ttl,
            stored=now,
            kind="success" if success else "denial",
            ad=bool(reply[3] & 0x20),
            # a question with letters may share labels with names behind it: keep its case
            locked=body[12:qend].lower() != body[12:qend].upper(),
        )
        entry.source = source
        if not _under(key[0], self._no_success if success else self._no_denial):
            server = server or self.server
            self._add(key, entry, server, "")
            if not self.prefetch_amount:  # the next queries are this entry's hits
                labels = (server, self.zones_label, "")
                hit = (server, entry.kind, self.zones_label, "")
                self._reuse = (_Hit(self, entry, now), partial(_count_hits, labels, hit))
        fit = entry.fit(wire, key[3], tcp)
        if fit is None:
            return None
        qname, opt = fit
        return entry.render(wire[0:2], (wire[2] << 8) | wire[3], qname, ttl, opt, key[3])

    def fast_passed(self, server: str, count: int = 1) -> None:
        """Count queries the fast path passed on: requests and misses, as serve_dns counts."""
        labels = self._labels if server == self.server else (server, self.zones_label, "")
        REQUESTS.inc(labels, count)
        MISSES.inc(labels, count)

    # -- the chain -----------------------------------------------------------------------------

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer from the cache, or ask the next plugin and cache what it writes."""
        if not req.msg.questions or not in_zones(req.qname, self.zones):
            return await next_or_failure(self.name, self.next, req, w)
        key = request_key(req)
        now = self.clock()
        labels = (req.server, self.zones_label, req.view)
        REQUESTS.inc(labels)
        entry = self.lookup(key, now)
        if entry is None:
            MISSES.inc(labels)
            return await next_or_failure(self.name, self.next, req, CacheWriter(self, req, w, key))
        HITS.inc((req.server, entry.kind, self.zones_label, req.view))
        ttl = entry.remaining(now)
        if ttl <= 0 and self.verify_stale:
            verify = CacheWriter(self, req, w, key, verify=True)
            try:
                rcode = await next_or_failure(self.name, self.next, req, verify)
            except Exception as exc:  # a failed refresh means: serve the stale entry
                log.debug(f"serve_stale verify of {req.qname} failed: {exc}")
            else:
                if verify.refreshed:
                    return rcode

        ttl, refresh = self._serve_ttl(entry, ttl, now, labels)
        if refresh and key not in self._refreshing:
            copy = Request(
                dnslib.DNSRecord.parse(req.msg.pack()),
                "tcp",
                req.remote,
                req.local,
                size=req.size,
                server=req.server,
                zone=req.zone,
                view=req.view,
            )
            self._refresh_later(key, entry, now, labels, copy)
        req.answered_by = self.name
        w.write(self._hit_reply(entry, req, ttl))
        return NOERROR

    def _hit_reply(self, entry: Entry, req: Request, ttl: int) -> dnslib.DNSRecord:
        """Build a hit for the chain from the same bytes the fast path sends."""
        question = req.msg.questions[0]
        qname = name_wire(tuple(question.qname.label))
        patch = not entry.locked or qname == entry.wire[12 : entry.qend]
        header = req.msg.header
        ident = struct.pack("!H", header.id)
        body = entry.render(ident, header.bitmap, qname if patch else None, ttl, b"", req.do)
        reply = dnslib.DNSRecord.parse(body)
        if not patch:  # echo the client's case; the records keep the case they were cached with
            reply.questions[0].qname = question.qname
        return reply

    # -- shared hit bookkeeping: stale, prefetch, keepttl --------------------------------------

    def _serve_ttl(self, entry: Entry, ttl: int, now: float, labels: Labels) -> tuple[int, bool]:
        """Return the TTL to answer with, and whether to refresh the item in the background.

        A refresh is due for a stale item (serve_stale immediate) or a popular item near its
        expiry (prefetch); the caller starts it with a copy of the request.
        """
        refresh = False
        if ttl <= 0:
            refresh = not self.verify_stale
            SERVED_STALE.inc(labels)
            ttl = 0
        elif self.prefetch_amount:
            refresh = self._should_prefetch(entry, now)
        return (entry.ttl if self.config.keepttl else ttl), refresh

    def _should_prefetch(self, entry: Entry, now: float) -> bool:
        """Count this hit; tell whether the item is popular and close enough to expiry."""
        if entry.last < now - self.prefetch_window:
            entry.hits = 1
        else:
            entry.hits += 1
        entry.last = now
        threshold = math.ceil(self.prefetch_fraction * entry.ttl)
        return entry.hits >= self.prefetch_amount and entry.remaining(now) <= threshold

    def _refresh_later(
        self, key: Key, entry: Entry, now: float, labels: Labels, req: Request
    ) -> None:
        """Refresh the item behind `key` in a background task (one per item at a time)."""
        self._refreshing.add(key)
        task = asyncio.get_running_loop().create_task(self._refresh(key, entry, now, labels, req))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(
        self, key: Key, entry: Entry, now: float, labels: Labels, req: Request
    ) -> None:
        """Ask the next plugin again and store the answer (prefetch and stale refresh)."""
        try:
            PREFETCHES.inc(labels)
            try:
                await next_or_failure(self.name, self.next, req, CacheWriter(self, req, None, key))
            except Exception as exc:  # the old entry stays; the next hit tries again
                log.debug(f"refresh of {req.qname} failed: {exc}")
                return
            fresh = self.denial.get(key) or self.success.get(key)
            if fresh is not None and fresh is not entry:
                fresh.hits, fresh.last = entry.hits, now
        finally:
            self._refreshing.discard(key)

    # -- storing -------------------------------------------------------------------------------

    def store(
        self, req: Request, key: Key, reply: dnslib.DNSRecord, *, prefetch: bool = False
    ) -> None:
        """Cache `reply` if CoreDNS would; cap its TTLs and drop its OPT for the client."""
        config = self.config
        kind = typify(reply, self.wall())
        if kind in (Kind.NAME_ERROR, Kind.NO_DATA):
            duration = float(
                clamp(minimal_ttl(reply, kind), config.denial.min_ttl, config.denial.max_ttl)
            )
        elif kind is Kind.SERVER_ERROR:
            duration = config.servfail_ttl
        else:
            duration = float(
                clamp(minimal_ttl(reply, kind), config.success.min_ttl, config.success.max_ttl)
            )
        ttl = int(duration)
        # CoreDNS applies the capped TTL to every record and filters OPT (EDNS is hop-by-hop).
        reply.ar = [rr for rr in reply.ar if rr.rtype != OPT]
        for section in (reply.rr, reply.auth, reply.ar):
            for rr in section:
                rr.ttl = ttl
        cacheable = not reply.header.tc and (kind in SUCCESS_KINDS or kind in DENIAL_KINDS)
        if cacheable and duration > 0:
            if _matches(req, reply):
                self._set(req, key, reply, kind, ttl, prefetch)
            else:
                DROPS.inc((req.server, self.zones_label, req.view))
        if not req.do and not req.msg.header.ad:
            reply.header.ad = 0  # no AD for clients that asked for no DNSSEC (RFC 6840 5.7)

    def _set(
        self,
        req: Request,
        key: Key,
        reply: dnslib.DNSRecord,
        kind: Kind,
        ttl: int,
        prefetch: bool,
    ) -> None:
        config = self.config
        success = kind in SUCCESS_KINDS
        label = "success" if success else "denial"
        if in_zones(req.qname, config.disable_success if success else config.disable_denial):
            return
        try:
            entry = make_entry(
                reply, ttl=ttl, stored=self.clock(), kind=label, ad=bool(reply.header.ad)
            )
        except ValueError as exc:
            log.debug(f"not caching {req.qname}: {exc}")
            return
        self._add(key, entry, req.server, req.view)
        if success and prefetch:
            self.denial.remove(key)

    def _add(self, key: Key, entry: Entry, server: str, view: str) -> None:
        """File `entry` in its bucket, counting an eviction and the entries."""
        bucket = self.success if entry.kind == "success" else self.denial
        if bucket.add(key, entry):
            EVICTIONS.inc((server, entry.kind, self.zones_label, view))
        ENTRIES.set((server, "success", self.zones_label, view), len(self.success))
        ENTRIES.set((server, "denial", self.zones_label, view), len(self.denial))

    # -- lifecycle -----------------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until no refresh runs in the background."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the refreshes still running."""
        for task in list(self._tasks):
            task.cancel()
        await self.drain()
