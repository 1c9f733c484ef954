"""cache handler: what is cached and for how long, keys, hits as bytes, stale, prefetch, metrics.

The clock is injected: `Clock` is the handler's monotonic clock, moved by hand.
"""

from __future__ import annotations

from collections.abc import Callable

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NOT_WRITTEN, SERVFAIL, PluginError, Request
from kdns.plugins.cache import Cache, query_key
from kdns.plugins.cache.handler import request_key
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
from kdns.plugins.testing import build, make_request
from kdns.plugins.wire import packed
from kdns.runtime.writer import Writer

Make = Callable[[Request], dnslib.DNSRecord | None]


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Upstream:
    """A next handler that builds its reply with `make` (None: SERVFAIL unwritten or raise)."""

    name = "upstream"

    def __init__(self, make: Make, *, fail: bool = False) -> None:
        self.make = make
        self.fail = fail
        self.calls = 0

    async def serve_dns(self, req: Request, w: object) -> int:
        self.calls += 1
        if self.fail:
            raise PluginError("upstream", "connection refused")
        reply = self.make(req)
        if reply is None:
            return SERVFAIL
        req.answered_by = self.name
        w.write(reply)  # type: ignore[attr-defined]
        return NOERROR


def answer(
    rcode: int = NOERROR,
    an: tuple[str, ...] = (),
    ns: tuple[str, ...] = (),
    ar: tuple[str, ...] = (),
    *,
    aa: bool = False,
    ad: bool = False,
    tc: bool = False,
    opt: dnslib.RR | None = None,
) -> Make:
    def make(req: Request) -> dnslib.DNSRecord:
        reply = req.reply(rcode, aa=aa)
        for section, lines in ((reply.add_answer, an), (reply.add_auth, ns), (reply.add_ar, ar)):
            for line in lines:
                section(*dnslib.RR.fromZone(line))
        if opt is not None:
            reply.add_ar(opt)
        reply.header.ad, reply.header.tc = int(ad), int(tc)
        return reply

    return make


def setup(text: str, make: Make, keys: str = ".", **kw: bool) -> tuple[Cache, Upstream, Clock]:
    upstream = Upstream(make, **kw)
    cache = build(text, upstream, keys=keys)  # type: ignore[arg-type]
    assert isinstance(cache, Cache)
    clock = Clock()
    cache.clock = clock
    return cache, upstream, clock


def ask(
    name: str = "example.org",
    qtype: str = "A",
    *,
    cd: bool = False,
    rd: bool = True,
    ad: bool = False,
    qclass: str = "IN",
    **kw: object,
) -> Request:
    req = make_request(name, qtype, qclass=qclass, **kw)  # type: ignore[arg-type]
    req.msg.header.cd, req.msg.header.rd, req.msg.header.ad = int(cd), int(rd), int(ad)
    return req


async def exchange(cache: Cache, req: Request) -> bytes:
    """Run `req` through the chain and return the bytes the runtime writer sends."""
    sent: list[bytes] = []
    w = Writer(req, sent.append)
    rcode = await cache.serve_dns(req, w)
    if not sent and rcode in NOT_WRITTEN:
        w.write(req.reply(rcode))
    assert len(sent) == 1
    return sent[0]


def fast(cache: Cache, req: Request, now: float) -> bytes | None:
    wire = packed(req.msg)
    key = query_key(wire)
    assert key is not None
    return cache.fast_answer(key, wire, now, tcp=req.proto == "tcp")


def ttls(wire: bytes) -> list[int]:
    msg = dnslib.DNSRecord.parse(wire)
    return [rr.ttl for rr in msg.rr + msg.auth + msg.ar if rr.rtype != 41]


A60 = "example.org. 60 IN A 192.0.2.1"
SOA = "example.org. {} IN SOA ns.example.org. host.example.org. 1 7200 3600 86400 {}"
NS = "example.org. 3600 IN NS ns.example.org."
RRSIG = "example.org. 60 IN RRSIG A 8 2 60 {} 20000101000000 12345 example.org. AAAA"
DO_OPT = dnslib.EDNS0(udp_len=4096, flags="do")

CACHEABILITY = [
    # (id, directive, upstream reply, qtype, bucket (None: not cached), the item TTL, which
    # every record of the reply to the miss carries too)
    (
        "lowest TTL wins",
        "cache",
        answer(an=(A60, "example.org. 30 IN A 192.0.2.2")),
        "A",
        "success",
        30,
    ),
    (
        "all sections count",
        "cache",
        answer(an=(A60,), ns=(NS,), ar=("ns.example.org. 8 IN A 192.0.2.9",)),
        "A",
        "success",
        8,
    ),
    ("TTL caps", "cache 10", answer(an=(A60,)), "A", "success", 10),
    ("MINTTL floors", "cache", answer(an=("example.org. 2 IN A 192.0.2.1",)), "A", "success", 5),
    ("no records: 5s", "cache 3600", answer(), "A", "success", 5),
    (
        "zero TTL with MINTTL 0 is not cached",
        "cache {\nsuccess 1024 60 0\n}",
        answer(an=("example.org. 0 IN A 192.0.2.1",)),
        "A",
        None,
        0,
    ),
    ("NODATA with SOA", "cache", answer(ns=(SOA.format(60, 60),)), "A", "denial", 60),
    (
        "NXDOMAIN with SOA, denial TTL",
        "cache {\ndenial 1024 300\n}",
        answer(3, ns=(SOA.format(1000, 1000),)),
        "A",
        "denial",
        300,
    ),
    ("NXDOMAIN without SOA", "cache", answer(3), "A", None, 5),
    ("SERVFAIL written", "cache", answer(2), "A", "denial", 5),
    ("SERVFAIL with servfail 0", "cache {\nservfail 0s\n}", answer(2), "A", None, 0),
    ("NOTIMP is cached as SERVFAIL is", "cache", answer(4), "A", "denial", 5),
    ("REFUSED", "cache", answer(5, an=(A60,)), "A", None, 5),
    ("FORMERR", "cache", answer(1), "A", None, 5),
    ("truncated", "cache", answer(an=(A60,), tc=True), "A", None, 60),
    ("delegation: 5s whatever the NS TTL", "cache", answer(ns=(NS,)), "A", "success", 5),
    ("zone transfer", "cache", answer(an=(A60,)), "AXFR", None, 5),
    (
        "expired RRSIG for DO: an error, 5s",
        "cache",
        answer(an=(A60, RRSIG.format("20010101000000")), opt=DO_OPT),
        "A",
        None,
        5,
    ),
    (
        "valid RRSIG for DO",
        "cache",
        answer(an=(A60, RRSIG.format("21000101000000")), opt=DO_OPT),
        "A",
        "success",
        60,
    ),
]


@pytest.mark.parametrize(
    ("directive", "make", "qtype", "bucket", "ttl"),
    [c[1:] for c in CACHEABILITY],
    ids=[c[0] for c in CACHEABILITY],
)
async def test_what_is_cached_and_the_ttl_the_miss_gets(
    directive: str, make: Make, qtype: str, bucket: str | None, ttl: int
) -> None:
    cache, upstream, _ = setup(directive, make)
    req = ask(qtype=qtype)
    first = await exchange(cache, req)
    assert all(t == ttl for t in ttls(first))
    second = await exchange(cache, ask(qtype=qtype))
    assert upstream.calls == (2 if bucket is None else 1)
    assert dnslib.DNSRecord.parse(second).header.rcode == dnslib.DNSRecord.parse(first).header.rcode
    assert (len(cache.success), len(cache.denial)) == {
        None: (0, 0),
        "success": (1, 0),
        "denial": (0, 1),
    }[bucket]
    entry = cache.lookup(request_key(req), cache.clock())
    assert (entry is None) == (bucket is None)
    assert entry is None or (entry.kind, entry.ttl) == (bucket, ttl)


#: The cases the fast path stores from the bytes of the answerer behind (the rest: the chain).
FILLED = {
    "lowest TTL wins",
    "all sections count",
    "TTL caps",
    "MINTTL floors",
    "NODATA with SOA",
    "NXDOMAIN with SOA, denial TTL",
}


@pytest.mark.parametrize(
    ("case", "directive", "make", "qtype", "bucket", "ttl"),
    CACHEABILITY,
    ids=[c[0] for c in CACHEABILITY],
)
async def test_a_fill_from_bytes_stores_and_answers_as_a_miss_through_the_chain(
    case: str, directive: str, make: Make, qtype: str, bucket: str | None, ttl: int
) -> None:
    """fast_fill takes the plain kinds and gives what the chain's miss gives; it leaves the
    rest (errors, delegations, RRSIGs, zero TTLs) to the chain, storing nothing."""
    chain, _, _ = setup(directive, make)
    sent = await exchange(chain, ask(qtype=qtype))
    filling, upstream, clock = setup(directive, make)
    req = ask(qtype=qtype)
    wire = packed(req.msg)
    key = query_key(wire)
    assert key is not None
    behind = make(req)
    assert behind is not None
    filled = filling.fast_fill(key, wire, packed(behind), clock())
    assert (filled is not None) == (case in FILLED)
    if filled is None:
        assert (len(filling.success), len(filling.denial)) == (0, 0)
        return
    assert filled[2:] == sent[2:]
    assert (len(filling.success), len(filling.denial)) == (len(chain.success), len(chain.denial))
    entry = filling.lookup(key, clock())
    assert entry is not None
    assert (entry.kind, entry.ttl) == (bucket, ttl)
    assert fast(filling, ask(qtype=qtype), clock()) is not None  # now a hit
    assert upstream.calls == 0


async def test_a_fill_leaves_a_usable_entry_alone() -> None:
    """An entry the bytes could not serve (a client's other case) is still the chain's hit."""
    cache, _, clock = setup("cache", answer(an=(A60,)))
    await exchange(cache, ask())
    req = ask("EXAMPLE.org")
    wire = packed(req.msg)
    key = query_key(wire)
    assert key is not None
    assert cache.fast_fill(key, wire, packed(answer(an=(A60,))(req)), clock()) is None


async def test_servfail_is_cached_for_the_servfail_duration() -> None:
    cache, upstream, clock = setup("cache {\nservfail 2s\n}", answer(2))
    await exchange(cache, ask())
    clock.t += 1.9
    reply = dnslib.DNSRecord.parse(await exchange(cache, ask()))
    assert (reply.header.rcode, upstream.calls) == (2, 1)
    clock.t += 0.2
    await exchange(cache, ask())
    assert upstream.calls == 2


KEYS = [
    # (first query, second query, answered from the same entry)
    (ask("example.org"), ask("EXAMPLE.Org"), True),
    (ask(), ask(bufsize=1232), True),
    (ask(), ask(qtype="AAAA"), False),
    (ask(bufsize=1232), ask(do=True), False),
    (ask(), ask(cd=True), False),
    (ask(), ask(qclass="CH"), False),
]


@pytest.mark.parametrize(("first", "second", "same"), KEYS)
async def test_key_is_name_any_case_type_class_do_and_cd(
    first: Request, second: Request, same: bool
) -> None:
    cache, upstream, _ = setup("cache", answer(an=(A60,)))
    await exchange(cache, first)
    await exchange(cache, second)
    assert upstream.calls == (1 if same else 2)


@pytest.mark.parametrize("edns", [{}, {"bufsize": 1232}, {"do": True}, {"bufsize": 4096}])
async def test_a_hit_is_the_miss_byte_for_byte_id_aside_on_both_paths(
    edns: dict[str, object],
) -> None:
    cache, _, clock = setup(
        "cache", answer(an=(A60, 'example.org. 300 IN TXT "x"'), ar=(NS,), aa=True)
    )
    miss = await exchange(cache, ask(**edns))  # type: ignore[arg-type]
    again = ask(**edns)  # type: ignore[arg-type]
    hit = fast(cache, again, clock.t)
    assert hit is not None
    assert hit[:2] == bytes(again.msg.pack())[:2]
    assert hit[2:] == miss[2:]
    assert await exchange(cache, again) == hit


async def test_ttl_counts_down_and_the_entry_expires() -> None:
    cache, upstream, clock = setup("cache", answer(an=(A60,)))
    await exchange(cache, ask())
    clock.t += 10.7
    assert ttls(await exchange(cache, ask())) == [50]
    hit = fast(cache, ask(), clock.t + 39.9)
    assert hit is not None
    assert ttls(hit) == [10]
    clock.t += 49.3
    assert fast(cache, ask(), clock.t) is None
    assert ttls(await exchange(cache, ask())) == [60]
    assert upstream.calls == 2


async def test_keepttl_answers_with_the_stored_ttl() -> None:
    cache, _, clock = setup("cache {\nkeepttl\n}", answer(an=(A60,)))
    await exchange(cache, ask())
    clock.t += 30
    assert ttls(await exchange(cache, ask())) == [60]
    hit = fast(cache, ask(), clock.t)
    assert hit is not None
    assert ttls(hit) == [60]


async def test_question_case_is_echoed_and_records_keep_the_cached_case() -> None:
    cache, _, clock = setup("cache", answer(an=(A60,)))
    await exchange(cache, ask("example.org"))
    shouted = ask("EXAMPLE.ORG")
    assert fast(cache, shouted, clock.t) is None  # the answer shares the question's labels
    reply = dnslib.DNSRecord.parse(await exchange(cache, shouted))
    assert str(reply.q.qname) == "EXAMPLE.ORG."
    assert str(reply.rr[0].rname) == "example.org."
    # no record shares a label with the question: the fast path copies the client's case
    cache, _, clock = setup(
        "cache", answer(ns=("other.test. 60 IN SOA a.test. b.test. 1 2 3 4 60",))
    )
    await exchange(cache, ask("nothing.example.org"))
    mixed = ask("NoThInG.example.ORG")
    hit = fast(cache, mixed, clock.t)
    assert hit is not None
    assert str(dnslib.DNSRecord.parse(hit).q.qname) == "NoThInG.example.ORG."
    assert await exchange(cache, mixed) == hit  # the chain sends the same bytes


async def test_header_flags_follow_the_client_and_the_cached_reply() -> None:
    cache, _, clock = setup("cache", answer(an=(A60,), aa=True, ad=True))
    miss = dnslib.DNSRecord.parse(await exchange(cache, ask(do=True)))
    assert (miss.header.aa, miss.header.ad) == (1, 1)
    hit = fast(cache, ask(do=True, rd=False), clock.t)
    assert hit is not None
    header = dnslib.DNSRecord.parse(hit).header
    assert (header.rd, header.aa, header.ad) == (0, 1, 1)
    # a client without DO or AD gets no AD, on the miss and on the hit
    plain = dnslib.DNSRecord.parse(await exchange(cache, ask()))
    assert plain.header.ad == 0
    hit = fast(cache, ask(), clock.t)
    assert hit is not None
    assert dnslib.DNSRecord.parse(hit).header.ad == 0
    hit = fast(cache, ask(ad=True), clock.t)
    assert hit is not None
    assert dnslib.DNSRecord.parse(hit).header.ad == 1


async def test_opt_is_the_clients_own_not_the_upstreams() -> None:
    cache, _, clock = setup("cache", answer(an=(A60,), opt=dnslib.EDNS0(udp_len=4096)))
    plain = dnslib.DNSRecord.parse(await exchange(cache, ask()))
    assert [rr.rtype for rr in plain.ar] == []
    hit = fast(cache, ask(bufsize=4000), clock.t)
    assert hit is not None
    opt = dnslib.DNSRecord.parse(hit).ar
    assert [(rr.rtype, rr.rclass) for rr in opt] == [(41, 1232)]


async def test_a_reply_too_big_for_the_client_is_left_to_the_normal_path() -> None:
    records = tuple(f"example.org. 60 IN A 192.0.2.{i}" for i in range(1, 61))
    cache, upstream, clock = setup("cache", answer(an=records))
    full = await exchange(cache, ask(proto="tcp"))
    assert len(full) > 512
    assert fast(cache, ask(proto="tcp"), clock.t) is not None
    assert fast(cache, ask(), clock.t) is None
    assert fast(cache, ask(bufsize=1232), clock.t) is not None
    small = await exchange(cache, ask())
    assert len(small) <= 512
    assert dnslib.DNSRecord.parse(small).header.tc == 1
    assert upstream.calls == 1


async def test_only_the_cache_zones_are_cached_and_disable_is_honoured() -> None:
    cache, upstream, _ = setup("cache example.org", answer(an=(A60,)))
    for _ in range(2):
        await exchange(cache, ask("www.example.net"))
        await exchange(cache, ask("www.example.org"))
    assert upstream.calls == 3
    nx = answer(3, ns=(SOA.format(60, 60),))
    for kind, make, stored in [("success", answer(an=(A60,)), 0), ("denial", nx, 0)]:
        cache, upstream, _ = setup(f"cache {{\ndisable {kind} example.org\n}}", make)
        await exchange(cache, ask("a.example.org"))
        await exchange(cache, ask("a.example.org"))
        assert upstream.calls == 2
        assert len(cache.success) + len(cache.denial) == stored
        await exchange(cache, ask("a.example.com"))
        await exchange(cache, ask("a.example.com"))
        assert upstream.calls == 3


PASSING_CONFIGS = [
    "cache 30 {\n disable success cluster.local\n disable denial cluster.local\n}",
    "cache 30 example.org {\n disable success a.example.org\n disable denial example.org\n}",
    "cache 30 cluster.local {\n disable denial cluster.local\n}",
    "cache {\n disable success .\n disable denial .\n}",
    "cache 30 a.example.org example.org {\n disable success example.org\n"
    " disable denial b.a.example.org\n}",
    "cache 30 example.org {\n disable success example.com\n}",
]
PASSING_NAMES = [
    "svc.ns.svc.cluster.local",
    "cluster.local",
    "local",
    "example.com",
    "example.org",
    "a.example.org",
    "x.a.example.org",
    "x.b.example.org",
    "q.b.a.example.org",
    "b.a.example.org",
    "c.a.example.org",
    ".",
]


@pytest.mark.parametrize("text", PASSING_CONFIGS)
async def test_the_fast_path_passes_exactly_the_names_the_chain_never_stores(text: str) -> None:
    passes = {}
    for name in PASSING_NAMES:
        stores = False
        for make in (answer(an=(A60,)), answer(3, ns=(SOA.format(60, 60),))):
            cache, _, _ = setup(text, make)
            await exchange(cache, ask(name))
            stores = stores or len(cache.success) + len(cache.denial) > 0
        passes[name] = not stores
    # one cache asked about every name, twice over in two orders: what it learns of a parent
    # name from one name holds for its siblings
    cache, _, _ = setup(text, answer(an=(A60,)))
    for name in [*PASSING_NAMES, *reversed(PASSING_NAMES)] * 2:
        key = query_key(packed(ask(name).msg))
        assert key is not None
        assert cache.fast_passes(key) is passes[name], name


async def test_metrics_count_requests_hits_misses_entries_and_drops() -> None:
    cache, _, clock = setup("cache", answer(an=(A60,)), keys="metrics.test")
    nx_cache, _, _ = setup("cache", answer(3, ns=(SOA.format(60, 60),)), keys="metrics.test")
    labels = ("dns://:53", "metrics.test.", "")
    typed = lambda kind: ("dns://:53", kind, "metrics.test.", "")  # noqa: E731
    before = [m.get(labels) for m in (REQUESTS, MISSES)] + [HITS.get(typed("success"))]
    await exchange(cache, ask("a.metrics.test"))
    assert ENTRIES.get(typed("success")) == 1
    await exchange(cache, ask("a.metrics.test"))
    assert fast(cache, ask("a.metrics.test"), clock.t) is not None
    await exchange(nx_cache, ask("b.metrics.test"))
    await exchange(nx_cache, ask("b.metrics.test"))
    assert REQUESTS.get(labels) - before[0] == 5
    assert MISSES.get(labels) - before[1] == 2
    assert HITS.get(typed("success")) - before[2] == 2
    assert HITS.get(typed("denial")) >= 1
    assert ENTRIES.get(typed("denial")) == 1

    def other_question(req: Request) -> dnslib.DNSRecord:
        return dnslib.DNSRecord.question("elsewhere.test").reply()

    drops = DROPS.get(labels)
    stray, upstream, _ = setup("cache", other_question, keys="metrics.test")
    await exchange(stray, ask("c.metrics.test"))
    await exchange(stray, ask("c.metrics.test"))
    assert (DROPS.get(labels) - drops, upstream.calls) == (2, 2)


async def test_full_shards_evict_and_count_evictions() -> None:
    cache, _, _ = setup("cache {\nsuccess 1024\n}", answer(an=(A60,)), keys="evict.test")
    label = ("dns://:53", "success", "evict.test.", "")
    before = EVICTIONS.get(label)
    for i in range(1500):
        await exchange(cache, ask(f"n{i}.evict.test"))
    assert len(cache.success) <= 1024
    assert len(cache.success) + EVICTIONS.get(label) - before == 1500
    assert ENTRIES.get(label) == len(cache.success)


async def test_prefetch_refreshes_popular_items_near_expiry() -> None:
    cache, upstream, clock = setup(
        "cache {\nprefetch 2 2s 50%\n}", answer(an=("example.org. 10 IN A 192.0.2.1",)), "pf.test"
    )
    labels = ("dns://:53", "pf.test.", "")
    before = PREFETCHES.get(labels)
    name = "example.pf.test"
    await exchange(cache, ask(name))
    clock.t += 5.5  # 5s left <= 50%, but only one hit so far: not popular yet
    assert ttls(await exchange(cache, ask(name))) == [5]
    await cache.drain()
    assert upstream.calls == 1
    clock.t += 0.5  # a second hit within 2s: prefetched in the background
    assert ttls(await exchange(cache, ask(name))) == [4]
    await cache.drain()
    assert upstream.calls == 2
    assert PREFETCHES.get(labels) - before == 1
    assert ttls(await exchange(cache, ask(name))) == [10]  # the refreshed entry
    clock.t += 5.5  # 5s left again, but the last hit was more than 2s ago: the count restarts
    await exchange(cache, ask(name))
    await cache.drain()
    assert upstream.calls == 2
    clock.t += 0.5  # popular again: the fast path prefetches too
    hit = fast(cache, ask(name), clock.t)
    assert hit is not None
    assert ttls(hit) == [4]
    await cache.drain()
    assert upstream.calls == 3
    assert PREFETCHES.get(labels) - before == 2


@pytest.mark.parametrize("path", ["chain", "fast"])
async def test_serve_stale_answers_ttl_0_and_refreshes_in_the_background(path: str) -> None:
    cache, upstream, clock = setup("cache {\nserve_stale 1h\n}", answer(an=(A60,)), keys="st.test")
    labels = ("dns://:53", "st.test.", "")
    before = SERVED_STALE.get(labels)
    await exchange(cache, ask("a.st.test"))
    clock.t += 120
    stale = (
        await exchange(cache, ask("a.st.test"))
        if path == "chain"
        else fast(cache, ask("a.st.test"), clock.t)
    )
    assert stale is not None
    assert ttls(stale) == [0]
    assert SERVED_STALE.get(labels) - before == 1
    await cache.drain()
    assert upstream.calls == 2
    assert ttls(await exchange(cache, ask("a.st.test"))) == [60]
    clock.t += 60 + 3600  # beyond the stale window: a plain miss
    assert fast(cache, ask("a.st.test"), clock.t) is None


async def test_serve_stale_survives_a_failing_refresh() -> None:
    cache, upstream, clock = setup("cache {\nserve_stale 1h\n}", answer(an=(A60,)))
    await exchange(cache, ask())
    upstream.fail = True
    clock.t += 100
    assert ttls(await exchange(cache, ask())) == [0]
    await cache.drain()
    assert ttls(await exchange(cache, ask())) == [0]
    await cache.drain()
    assert upstream.calls == 3


@pytest.mark.parametrize(
    ("refresh", "expect_ttl", "rcode"),
    [(answer(an=("example.org. 30 IN A 192.0.2.7",)), 30, 0), (answer(2), 0, 0), (None, 0, 0)],
    ids=["upstream answers", "upstream SERVFAILs", "upstream writes nothing"],
)
async def test_serve_stale_verify_asks_upstream_first(
    refresh: Make | None, expect_ttl: int, rcode: int
) -> None:
    cache, upstream, clock = setup("cache {\nserve_stale 1h verify\n}", answer(an=(A60,)))
    await exchange(cache, ask())
    clock.t += 100
    assert fast(cache, ask(), clock.t) is None  # verify needs the upstream: not on the fast path
    upstream.make = refresh or (lambda req: None)
    reply = await exchange(cache, ask())
    assert ttls(reply) == [expect_ttl]
    assert dnslib.DNSRecord.parse(reply).header.rcode == rcode
    assert upstream.calls == 2
