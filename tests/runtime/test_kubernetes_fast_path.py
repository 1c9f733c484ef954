"""kubernetes answers on the fast path: computed once, then sent from bytes until an event.

The first query of a name runs the plugin; later ones are served from the ready answer as
bytes (DESIGN.md, "Speed"). The fast path must send exactly what the chain sends, drop only
what a watch event alters, keep the SOA serial current, and work behind kubeadm's cache with
`disable success/denial cluster.local` (counting the cache misses the chain would count) and
its `loadbalance` (reordering the bytes as the chain reorders records).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from kdns.plugins.cache.handler import Cache
from kdns.plugins.kubernetes import Kubernetes
from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.plugins.loadbalance.handler import Loadbalance
from kdns.plugins.wire import query_key
from kdns.runtime.server import Server
from kdns.runtime.testing import free_port, running

from .test_fast_path import counter, normalised, raw, set_fast
from .test_kubernetes_events import (
    CLUSTER,
    HTTP,
    KNOWN,
    SERVICE_CIDRS,
    T,
    answers,
    endpoint_slice,
    eventually,
    quick_retry,
    serial,
    service,
    values,
)

NEGATIVE = [
    ("nosuch." + T, "A"),
    ("api.example.com." + T, "A"),
    ("svc1." + T, "TXT"),
    ("cluster.local.", "SOA"),
    ("cluster.local.", "NS"),
    ("Svc1.TestNS.svc.Cluster.Local.", "A"),
    ("SVC1." + T, "A"),
]

KUBEADM = """\
.:{port} {{
    errors
    prometheus 127.0.0.1:{metrics}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    cache 30 {{
        disable success cluster.local
        disable denial cluster.local
    }}
    loadbalance
}}
"""


class Cluster:
    """A kdns serving the test cluster with kubeadm's cache settings, and its API server."""

    def __init__(self, api: ApiServer, server: Server, port: int, metrics: int) -> None:
        self.api = api
        self.server = server
        self.port = port
        self.metrics = metrics

    def handler(self) -> Kubernetes:
        assert self.server.current is not None
        for mux in self.server.current.muxes.values():
            for routes in mux.routes.values():
                for route in routes:
                    for answerer in route.fast:
                        if isinstance(answerer, Kubernetes):
                            return answerer
        raise AssertionError("no kubernetes handler on the fast path")

    def fix_order(self) -> None:
        """Make loadbalance's draws repeatable, so two paths can be compared byte for byte."""
        assert self.server.current is not None
        for mux in self.server.current.muxes.values():
            for routes in mux.routes.values():
                handler = routes[0].chain
                while handler is not None:
                    if isinstance(handler, Loadbalance):
                        handler.randbelow = lambda n: 0
                    handler = getattr(handler, "next", None)

    def cache(self) -> Cache:
        """The cache in front of the kubernetes plugin."""
        assert self.server.current is not None
        mux = next(iter(self.server.current.muxes.values()))
        cache = mux.wire_routes[b"\x00"].fast[0]
        assert isinstance(cache, Cache)
        return cache

    def ready(self, name: str, rdtype: str) -> bool:
        """Tell whether the plugin holds a ready answer for the name (no query is made): filed,
        or packed from the index (a Service's address) with no change to the Service since."""
        wire = dns.message.make_query(name, rdtype).to_wire()
        key = query_key(wire)
        assert key is not None
        handler = self.handler()
        if key in handler.answers.entries:
            return True
        direct = handler.direct.reply(handler.index, key, wire)
        held = handler.answers.holding.get(direct[1]) if direct is not None else None
        return held is not None and held.fresh()

    def fast(self, name: str, rdtype: str) -> bytes | None:
        """What the listener's fast path answers for a query, without the chain."""
        assert self.server.current is not None
        wire = dns.message.make_query(name, rdtype).to_wire()
        mux = next(iter(self.server.current.muxes.values()))
        return mux.fast(wire, "udp", ("127.0.0.1", 5353))


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with serving(KUBEADM, tmp_path) as cluster:
        yield cluster


@contextlib.asynccontextmanager
async def serving(corefile: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Serve the test cluster with `corefile` (a template of port, metrics, kubeconfig)."""
    async with ApiServer([CLUSTER], poll_interval=0, service_cidrs=SERVICE_CIDRS) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        port, metrics = free_port(), free_port()
        text = corefile.format(port=port, metrics=metrics, kubeconfig=kubeconfig)
        async with running(text, tmp_path, quick_retry()) as server:
            yield Cluster(api, server, port, metrics)


async def test_fast_and_chain_send_the_same_bytes(cluster: Cluster) -> None:
    """Every kind of name, positive and negative, over UDP and TCP, with and without EDNS/DO,
    reordered by loadbalance on the bytes as on the chain."""
    cluster.fix_order()
    for name, rdtype in [*KNOWN, *NEGATIVE]:
        for make in ({}, {"use_edns": 0}, {"want_dnssec": True}):
            for tcp in (False, True):
                set_fast(cluster.server, False)
                chain = await raw(cluster.port, name, rdtype, tcp=tcp, **make)
                set_fast(cluster.server, True)
                fast = await raw(cluster.port, name, rdtype, tcp=tcp, **make)
                assert normalised(fast) == normalised(chain), (name, rdtype, make, tcp)


async def test_names_are_answered_without_the_chain_from_the_first_query(cluster: Cluster) -> None:
    """A name never asked is answered on the fast path (computed there, as the plugin would,
    and filed as ready); an ExternalName target outside the zones needs a lookup, and the
    cache in front stores reverse names, so the chain answers those."""
    handler = cluster.handler()
    cluster.fix_order()
    for name, rdtype in [*KNOWN, ("nosuch." + T, "A")]:
        if rdtype == "CNAME" or name.endswith(".arpa."):
            continue  # ExternalName and reverse names: see below
        assert not cluster.ready(name, rdtype)
        reply = cluster.fast(name, rdtype)
        assert reply is not None, name
        msg = dns.message.from_wire(reply)
        assert str(msg.question[0].name).lower() == name.lower()
        assert handler.answers.last is not None  # sent ready: filed, or packed from the index
        set_fast(cluster.server, False)
        chain = await raw(cluster.port, name, rdtype)
        set_fast(cluster.server, True)
        assert normalised(chain) == normalised(reply), name
    assert cluster.fast("ext." + T, "A") is None  # its target lies outside: a lookup
    ext = query_key(dns.message.make_query("ext." + T, "A").to_wire())
    assert ext in handler.answers.chain_only  # not computed again on the next query
    cluster.api.apply(service("late", {"clusterIP": "10.96.9.9", "ports": HTTP}))
    await eventually(cluster.port, "late." + T, "A", answers("10.96.9.9"))
    assert ext not in handler.answers.chain_only  # a change may alter it: asked again
    # kubeadm's cache stores reverse names: the fast path asks the plugin behind, and the
    # cache stores its reply; the next query is the cache's hit
    ptr = query_key(dns.message.make_query("1.1.96.10.in-addr.arpa.", "PTR").to_wire())
    assert cluster.fast("1.1.96.10.in-addr.arpa.", "PTR") is not None
    assert cluster.cache().success.get(ptr) is not None  # type: ignore[arg-type]


async def test_an_event_drops_only_the_names_it_touches(cluster: Cluster) -> None:
    """A change to one Service drops its names (and those that span Services, such as
    wildcards); the names of other Services stay ready, and a negative answer carries the new
    serial."""
    await raw(cluster.port, "svc1." + T, "A")
    await raw(cluster.port, "multi." + T, "A")
    await raw(cluster.port, "nosuch." + T, "A")
    await raw(cluster.port, "*.testns.svc.cluster.local.", "A")
    old_serial = serial(dns.message.from_wire(await raw(cluster.port, "nosuch." + T, "A")))

    assert cluster.ready("*.testns.svc.cluster.local.", "A")

    cluster.api.apply(service("multi", {"clusterIP": "10.96.7.7", "ports": HTTP}))
    await eventually(cluster.port, "multi." + T, "A", answers("10.96.7.7"))
    assert cluster.ready("svc1." + T, "A")  # untouched: still ready
    assert cluster.ready("nosuch." + T, "A")  # negative, but of another name: still ready
    assert not cluster.ready("*.testns.svc.cluster.local.", "A")  # many Services: dropped
    negative = cluster.fast("nosuch." + T, "A")
    assert negative is not None
    reply = dns.message.from_wire(negative)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert serial(reply) >= old_serial
    assert serial(reply) == cluster.handler().index.serial


async def test_a_new_endpoint_replaces_the_ready_answer(cluster: Cluster) -> None:
    """A slice added to a Service changes its next answer, from the fast path too."""
    name = "svc6." + T
    first = dns.message.from_wire(await raw(cluster.port, name, "A"))
    cluster.api.apply(service("fresh", {"clusterIP": "None", "ports": HTTP}))
    cluster.api.apply(endpoint_slice("fresh-1", "fresh", "10.1.9.1"))
    await eventually(cluster.port, "fresh." + T, "A", answers("10.1.9.1"))
    cluster.api.apply(endpoint_slice("fresh-2", "fresh", "10.1.9.2"))
    await eventually(cluster.port, "fresh." + T, "A", answers("10.1.9.1", "10.1.9.2"))
    again = dns.message.from_wire(await raw(cluster.port, name, "A"))
    assert again.answer == first.answer


async def test_cache_in_front_counts_its_misses_on_the_fast_path(cluster: Cluster) -> None:
    """kubeadm's cache never stores cluster.local names; the fast path passes them on to the
    kubernetes plugin and counts a cache request and miss each time, as the chain does."""
    label = f"dns://:{cluster.port}"
    name = "svc1." + T

    def counts() -> list[float]:
        return [
            counter("coredns_dns_requests_total", server=label),
            counter("coredns_cache_requests_total", server=label),
            counter("coredns_cache_misses_total", server=label),
            counter("coredns_dns_responses_total", server=label, plugin="kubernetes"),
        ]

    before = counts()
    await raw(cluster.port, name, "A")  # the name's first answer (it fills a hot entry)
    after = counts()
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1, 1]
    for _ in range(5):
        await raw(cluster.port, name, "A")
    assert [b - a for a, b in zip(after, counts(), strict=True)] == [5, 5, 5, 5]
    assert cluster.fast(name, "A") is not None  # and they were answered from bytes
    # names outside cluster.local are the cache's own: not passed on
    wire = dns.message.make_query("example.com.", "A").to_wire()
    key = query_key(wire)
    assert key is not None
    assert cluster.server.current is not None
    route = next(iter(cluster.server.current.muxes.values())).wire_routes[b"\x00"]
    assert [type(a).__name__ for a in route.fast] == ["Cache", "Kubernetes"]
    cache = route.fast[0]
    assert not cache.fast_passes(key)  # type: ignore[attr-defined]


#: kubeadm's earlier Corefile: a plain cache stores cluster names too (its TTL caps the
#: plugin's 20 s at 10 s, so the tests see the cache's own TTL on the bytes).
EARLIER = """\
.:{port} {{
    errors
    prometheus 127.0.0.1:{metrics}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 20
    }}
    cache 10
    loadbalance
}}
"""


def forget(cache: Cache) -> None:
    """Empty the cache, so the next query of every name is a miss."""
    for bucket in (cache.success, cache.denial):
        for key in list(bucket):
            bucket.remove(key)


async def test_a_plain_cache_fills_from_the_plugin_bytes_as_the_chain_does(tmp_path: Path) -> None:
    """A miss of a plain cache in front is answered from the plugin's bytes and stored there:
    the same reply as a miss through the chain (TTLs capped by the cache), counted as a miss
    and a kubernetes response, and the next query is the cache's hit with the same bytes."""
    async with serving(EARLIER, tmp_path) as cluster:
        cluster.fix_order()
        cache = cluster.cache()
        label = f"dns://:{cluster.port}"
        for name, rdtype in [*KNOWN, *NEGATIVE]:
            for make in ({}, {"use_edns": 0}, {"want_dnssec": True}):
                for tcp in (False, True):
                    case = (name, rdtype, make, tcp)
                    forget(cache)
                    set_fast(cluster.server, False)
                    chain = await raw(cluster.port, name, rdtype, tcp=tcp, **make)
                    forget(cache)
                    set_fast(cluster.server, True)
                    misses = counter("coredns_cache_misses_total", server=label)
                    fast = await raw(cluster.port, name, rdtype, tcp=tcp, **make)
                    assert fast[2:] == chain[2:], case
                    assert counter("coredns_cache_misses_total", server=label) == misses + 1
                    hits = counter("coredns_cache_hits_total", server=label)
                    hit = await raw(cluster.port, name, rdtype, tcp=tcp, **make)
                    assert normalised(hit) == normalised(chain), case
                    assert counter("coredns_cache_hits_total", server=label) == hits + 1, case
            ttls = {rr.ttl for rr in dns.message.from_wire(chain).sections[1:3] for rr in rr}
            assert ttls <= {10}, (name, rdtype)  # the cache's cap, on the bytes


async def test_a_plain_cache_miss_skips_the_chain(tmp_path: Path) -> None:
    """The miss itself is answered on the fast path (the listener never parses it), and
    filed as the cache's entry, with the plugin counted as the answerer."""
    async with serving(EARLIER, tmp_path) as cluster:
        cache = cluster.cache()
        label = f"dns://:{cluster.port}"
        responses = counter("coredns_dns_responses_total", server=label, plugin="kubernetes")
        for name, rdtype in [("svc1." + T, "A"), ("nosuch." + T, "A"), ("svc1." + T, "TXT")]:
            key = query_key(dns.message.make_query(name, rdtype).to_wire())
            assert key is not None
            assert cache.lookup(key, cache.clock()) is None
            reply = cluster.fast(name, rdtype)
            assert reply is not None, name
            entry = cache.lookup(key, cache.clock())
            assert entry is not None, name
            assert entry.ttl == 10, name
            # the fill's reply is kept as the cache's hit: the next query is a hot answer
            assert cluster.server.current is not None
            mux = next(iter(cluster.server.current.muxes.values()))
            wire = dns.message.make_query(name, rdtype).to_wire()
            assert mux.hot_udp.entries[wire[2:]].accounting.plugin == "cache", name
            assert cluster.fast(name, rdtype) is not None  # the hit, from the cache
        after = counter("coredns_dns_responses_total", server=label, plugin="kubernetes")
        assert after == responses + 3  # the misses; the hits are the cache's
        assert counter("coredns_cache_hits_total", server=label) >= 3


async def test_an_expired_cache_entry_is_renewed_while_the_plugin_answer_holds(
    tmp_path: Path,
) -> None:
    """Past its TTL, an entry the cache filled from the plugin's ready answer is given again
    with a full TTL and without asking the plugin, as long as no watch event has altered that
    answer (a refill would store the same bytes); once one has, expiry brings the new data."""
    async with serving(EARLIER, tmp_path) as cluster:
        cache = cluster.cache()
        now = [1000.0]
        cache.clock = lambda: now[0]
        label = f"dns://:{cluster.port}"
        name = "svc1." + T

        def responses() -> float:
            return counter("coredns_dns_responses_total", server=label, plugin="kubernetes")

        first = dns.message.from_wire(await raw(cluster.port, name, "A"))
        assert first.answer[0].ttl == 10
        asked = responses()
        key = query_key(dns.message.make_query(name, "A").to_wire())
        assert key is not None
        entry = cache.lookup(key, now[0])
        for _ in range(3):  # three times past the TTL: renewed each time, the plugin not asked
            now[0] += 4
            assert dns.message.from_wire(await raw(cluster.port, name, "A")).answer[0].ttl == 6
            now[0] += 7
            again = dns.message.from_wire(await raw(cluster.port, name, "A"))
            assert again.answer == first.answer
            assert again.answer[0].ttl == 10
            assert cache.lookup(key, now[0]) is entry
        assert responses() == asked
        forget(cache)  # an entry the cache dropped is not renewed: the next tick refills it
        now[0] += 1
        assert dns.message.from_wire(await raw(cluster.port, name, "A")).answer[0].ttl == 10
        assert responses() == asked + 1
        entry = cache.lookup(key, now[0])
        asked += 1

        cluster.api.apply(service("svc1", {"clusterIP": "10.96.8.8", "ports": HTTP}))
        for _ in range(500):  # the watch event drops the plugin's ready answer
            if not cluster.ready(name, "A"):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the change never reached the plugin")
        cached = dns.message.from_wire(await raw(cluster.port, name, "A"))
        assert cached.answer == first.answer  # the cache holds the old data until its TTL ends
        now[0] += 11
        changed = dns.message.from_wire(await raw(cluster.port, name, "A"))
        assert values(changed) == {"10.96.8.8"}
        assert changed.answer[0].ttl == 10
        assert responses() == asked + 1  # refilled from the plugin
        assert cache.lookup(key, now[0]) is not entry
