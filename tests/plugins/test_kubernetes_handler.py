"""kubernetes handler: fallthrough, before-sync answers, ExternalName lookups, lifecycle.

Sections refer to /work/shared/research/k8s-dns-spec.md.
"""

from __future__ import annotations

from collections.abc import Callable

import dnslib
import pytest

from kdns.plugins.base import (
    NOERROR,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    BuildContext,
    PluginError,
    Readiness,
    Startable,
    Stoppable,
)
from kdns.plugins.bind.config import BindConfig
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.local import own_addresses
from kdns.plugins.kubernetes.objects import Service, Sink
from kdns.plugins.testing import StubHandler, build, make_request, run

from .k8s_kit import CLOCK, Expect, a, ask, check, cname, config, fill, handler, nodata, nx, ok, soa

Lines = Callable[[], list[str]]
T = "testns.svc.cluster.local."
FELL = ("fell.through.", "A", 60, "192.0.2.1")


def stub(rcode: int = NOERROR, *answers: str) -> StubHandler:
    return StubHandler(rcode, answers or ("fell.through. 60 IN A 192.0.2.1",))


# -- fallthrough (§15) and names outside the zones ------------------------------------------------

FALL = [
    # (options, name, qtype, falls through?)
    ("fallthrough", "nosuch." + T, "A", True),  # §15 NXDOMAIN falls through [T]
    ("fallthrough", "svc1." + T, "AAAA", False),  # §15 never for NODATA [T]
    ("fallthrough", "svc1." + T, "A", False),  # §15 answers stay [T]
    ("fallthrough", "foo.cluster.local.", "A", True),  # §15 invalid names too [C]
    ("fallthrough in-addr.arpa ip6.arpa", "9.9.9.10.in-addr.arpa.", "PTR", True),  # §16 [C]
    ("fallthrough in-addr.arpa ip6.arpa", "nosuch." + T, "A", False),  # §15 zones given [T]
    ("fallthrough cluster.local", "9.9.9.10.in-addr.arpa.", "PTR", False),  # §15 [T]
    ("", "example.com.", "A", True),  # §13 names outside every zone [C]
    ("", "nosuch." + T, "A", False),  # §15 off by default
]


@pytest.mark.parametrize(("options", "name", "qtype", "passes"), FALL)
async def test_fallthrough(options: str, name: str, qtype: str, passes: bool) -> None:
    nxt = stub()
    got = await ask(handler(options, nxt=nxt), name, qtype)
    assert len(nxt.calls) == int(passes)
    if passes:
        assert got.answer == [FELL]
    else:
        assert got.answer != [FELL]


async def test_fallthrough_without_a_next_plugin_is_servfail() -> None:
    # §15: "If there is no next plugin the client gets SERVFAIL"
    with pytest.raises(PluginError) as caught:
        await run(handler("fallthrough"), make_request("nosuch." + T))
    assert caught.value.rcode == SERVFAIL


async def test_outside_the_zones_without_a_next_plugin_is_servfail() -> None:
    with pytest.raises(PluginError):
        await run(handler(), make_request("example.com."))


async def test_transfers_are_refused_without_writing() -> None:
    # §18: AXFR/IXFR reaching the plugin -> REFUSED, written by the server [C]
    for qtype in ("AXFR", "IXFR"):
        rcode, w = await run(handler(), make_request("cluster.local.", qtype, proto="tcp"))
        assert (rcode, w.replies) == (REFUSED, [])


# -- before the first sync (§17) ------------------------------------------------------------------


def unsynced(options: str = "", nxt: StubHandler | None = None) -> Kubernetes:
    index = fill(Index(clock=lambda: CLOCK), synced=False)
    return handler(options, index=index, nxt=nxt)


UNSYNCED = [
    ("nosuch." + T, "A", Expect(SERVFAIL, authority=[soa()])),  # §17 [T]
    ("foo.cluster.local.", "A", Expect(SERVFAIL, authority=[soa()])),  # §17 [T]
    ("9.9.9.10.in-addr.arpa.", "PTR", Expect(SERVFAIL, authority=[soa("in-addr.arpa.")])),
    ("svc1." + T, "A", ok(a("svc1." + T, "10.0.0.1"))),  # §17 cached data answers [T]
    ("svc1." + T, "AAAA", nodata()),  # §17 NODATA stays NODATA [T]
    ("testns.svc.cluster.local.", "A", nodata()),  # §17 [T]
]


@pytest.mark.parametrize(("name", "qtype", "want"), UNSYNCED)
async def test_before_sync(name: str, qtype: str, want: Expect) -> None:
    h = unsynced()
    assert isinstance(h, Readiness)
    assert not h.ready()
    check(await ask(h, name, qtype), want)


async def test_sync_turns_servfail_into_nxdomain_and_ready() -> None:
    h = unsynced()
    assert (await ask(h, "nosuch." + T)).rcode == SERVFAIL
    h.index.mark_synced()
    assert h.ready()
    check(await ask(h, "nosuch." + T), nx())


async def test_fallthrough_wins_over_the_unsynced_servfail() -> None:
    # §17: "fallthrough is checked first and wins" [C]
    nxt = stub()
    got = await ask(unsynced("fallthrough", nxt=nxt), "nosuch." + T)
    assert (got.rcode, got.answer, len(nxt.calls)) == (NOERROR, [FELL], 1)


# -- ExternalName targets outside the zone (§6) ----------------------------------------------------

EXT = "ext." + T


async def test_external_target_is_resolved_through_the_next_plugin() -> None:
    nxt = stub(NOERROR, "ext.example.com. 300 IN A 93.184.216.34")
    got = await ask(handler(nxt=nxt), EXT, "A")
    # §6: the CNAME, then the target's records with their own TTLs [T][S]
    check(got, ok(cname(EXT, "ext.example.com."), a("ext.example.com.", "93.184.216.34", 300)))
    [call] = nxt.calls
    assert (call.qname, call.qtype) == ("ext.example.com.", dnslib.QTYPE.A)


async def test_external_target_aaaa() -> None:
    nxt = stub(NOERROR, "ext.example.com. 60 IN AAAA 2001:db8::1")
    got = await ask(handler(nxt=nxt), "Ext.TestNS.svc.cluster.local.", "AAAA")
    check(
        got,
        ok(
            cname("Ext.TestNS.svc.cluster.local.", "ext.example.com."),
            a("ext.example.com.", "2001:db8::1", 60),
        ),
    )


async def test_missing_external_target_leaves_the_cname() -> None:
    # §6: "if the target does not exist the answer is just the CNAME with NOERROR" [C]
    nxt = StubHandler(NXDOMAIN)
    check(await ask(handler(nxt=nxt), EXT, "A"), ok(cname(EXT, "ext.example.com.")))


async def test_in_zone_then_external_chain() -> None:
    # §6: in-zone targets are chased, the last one resolved through the server [T]
    nxt = stub(NOERROR, "ext.example.com. 30 IN A 93.184.216.34")
    got = await ask(handler(nxt=nxt), "ext-chain." + T, "A")
    check(
        got,
        ok(
            cname("ext-chain." + T, EXT),
            cname(EXT, "ext.example.com."),
            a("ext.example.com.", "93.184.216.34", 30),
        ),
    )


async def test_runtime_resolver_is_used_and_tc_copied() -> None:
    asked: list[tuple[str, int]] = []

    async def resolve(name: str, qtype: int) -> dnslib.DNSRecord:
        asked.append((name, qtype))
        reply = dnslib.DNSRecord(dnslib.DNSHeader(qr=1, tc=1), q=dnslib.DNSQuestion(name, qtype))
        reply.add_answer(*dnslib.RR.fromZone(f"{name} 20 IN A 198.51.100.7"))
        return reply

    nxt = stub()
    h = handler(nxt=nxt)
    h.resolve = resolve
    got = await ask(h, EXT, "A")
    # §6: TC is copied if that lookup was truncated [T]
    check(
        got,
        Expect(
            NOERROR,
            [cname(EXT, "ext.example.com."), a("ext.example.com.", "198.51.100.7", 20)],
            tc=True,
        ),
    )
    assert asked == [("ext.example.com.", dnslib.QTYPE.A)]
    assert nxt.calls == []


async def test_failed_resolution_drops_the_cname() -> None:
    async def resolve(name: str, qtype: int) -> dnslib.DNSRecord:
        raise OSError("no server")

    h = handler()
    h.resolve = resolve
    check(await ask(h, EXT, "A"), nodata())


async def test_target_in_another_zone_of_the_plugin_is_answered_by_the_plugin() -> None:
    nxt = stub()
    h = handler(zones="cluster.local other.local", nxt=nxt)
    h.index.apply(
        "Service",
        "ADDED",
        Service("testns", "cross", "ExternalName", external_name="svc1.testns.svc.other.local"),
    )
    got = await ask(h, "cross." + T, "A")
    check(
        got,
        ok(
            cname("cross." + T, "svc1.testns.svc.other.local."),
            a("svc1.testns.svc.other.local.", "10.0.0.1"),
        ),
    )
    assert nxt.calls == []


async def test_external_cname_loop_through_two_zones_ends() -> None:
    h = handler(zones="cluster.local other.local")
    h.index.apply(
        "Service",
        "ADDED",
        Service("testns", "ping", "ExternalName", external_name="pong.testns.svc.other.local"),
    )
    h.index.apply(
        "Service",
        "ADDED",
        Service("testns", "pong", "ExternalName", external_name="ping.testns.svc.cluster.local"),
    )
    got = await ask(h, "ping." + T, "A")
    assert got.rcode == NOERROR  # answered, not recursing forever


# -- the index as the watch side changes it (§2.3, §17) -----------------------------------------


async def test_answers_follow_watch_events() -> None:
    h = handler()
    name = "new." + T
    check(await ask(h, name), nx())
    svc = Service("testns", "new", "ClusterIP", cluster_ips=("10.0.0.50",))
    h.index.apply("Service", "ADDED", svc)
    check(await ask(h, name), ok(a(name, "10.0.0.50")))
    h.index.apply("Service", "DELETED", svc)
    check(await ask(h, name), nx())


async def test_soa_serial_is_the_time_of_the_last_change() -> None:
    now = [float(CLOCK)]
    index = fill(Index(clock=lambda: now[0]))
    h = handler(index=index)
    now[0] = CLOCK + 100
    h.index.apply("Service", "ADDED", Service("testns", "late", "ClusterIP", ("10.0.0.51",)))
    got = await ask(h, "cluster.local.", "SOA")
    assert got.answer[0][3].split()[2] == str(CLOCK + 100)


# -- lifecycle: the watch, the startup wait, the server's addresses (§17, §12) ------------------


class FakeController:
    """Stands in for controller.py: fills the sink on start if told to."""

    def __init__(self, sync: bool) -> None:
        self.sync = sync
        self.events: list[str] = []

    def __call__(self, config: KubernetesConfig, sink: Sink) -> FakeController:
        self.sink = sink
        return self

    async def start(self) -> None:
        self.events.append("start")
        if self.sync:
            self.sink.mark_synced()

    async def stop(self) -> None:
        self.events.append("stop")


async def test_start_waits_for_the_sync_and_stop_stops_the_watch(lines: Lines) -> None:
    h = handler()
    h.index = Index()
    fake = FakeController(sync=True)
    h.make_controller = fake
    assert isinstance(h, Startable)
    assert isinstance(h, Stoppable)
    await h.start()
    assert h.ready()
    assert fake.sink is h.index
    assert not any("unsynced" in line for line in lines())
    await h.stop()
    assert fake.events == ["start", "stop"]


async def test_start_gives_up_after_startup_timeout(lines: Lines) -> None:
    h = handler("startup_timeout 0s")
    h.index = Index()
    h.make_controller = FakeController(sync=False)
    await h.start()
    assert not h.ready()
    assert any("starting server with unsynced Kubernetes API" in line for line in lines())
    assert (await ask(h, "nosuch." + T)).rcode == SERVFAIL


async def test_start_reads_the_bind_addresses() -> None:
    ctx = BuildContext(zones=(".",), configs={"bind": (BindConfig(("10.1.2.3", "127.0.0.1")),)})
    h = Kubernetes((config(),), None, ctx)
    h.make_controller = None
    fill(h.index)
    await h.start()
    assert h.local_ips == ("10.1.2.3",)
    got = await ask(h, "ns.dns.cluster.local.", "A")
    check(got, ok(a("ns.dns.cluster.local.", "10.1.2.3")))


def test_own_addresses_leave_out_loopback() -> None:
    assert own_addresses(["10.1.2.3", "127.0.0.1", "::1", "fd00::1"]) == ["10.1.2.3", "fd00::1"]
    assert own_addresses(["lo"]) == []
    assert all(not a.startswith("127.") and a != "::1" for a in own_addresses())


def test_the_registry_builds_the_handler() -> None:
    h = build("kubernetes cluster.local {\n    ttl 30\n}", keys=".")
    assert isinstance(h, Kubernetes)
    assert isinstance(h, Readiness)
    assert not h.ready()  # nothing listed yet: /ready says kubernetes
    assert h.config.ttl == 30
