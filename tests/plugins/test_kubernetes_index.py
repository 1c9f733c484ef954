"""kubernetes index: lists swap in whole, events apply one by one, the SOA serial moves (§2.3)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kdns.plugins.kubernetes.index import Index, IpMap
from kdns.plugins.kubernetes.objects import (
    Endpoint,
    EndpointSlice,
    EventType,
    Kind,
    KubeObject,
    Namespace,
    Pod,
    Port,
    Service,
)

from .k8s_kit import a, ask, check, handler, nx, ok

T = "testns.svc.cluster.local."
SVC = Service("testns", "web", "ClusterIP", ("10.0.0.1",), ports=(Port("http", "TCP", 80),))
SLICE = EndpointSlice(
    "testns",
    "web-a",
    "web",
    "IPv4",
    (Endpoint(("10.1.0.1",), hostname="h"),),
    (Port("", "TCP", 80),),
)
POD = Pod("testns", "web-0", "10.1.0.1")


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def listed(clock: Clock) -> Index:
    index = Index(clock=clock)
    index.replace("Namespace", [Namespace("testns")])
    index.replace("Service", [SVC])
    index.replace("EndpointSlice", [SLICE])
    index.replace("Pod", [POD])
    index.mark_synced()
    return index


# (kind, event, object, does the serial move?)
SERIAL = [
    ("Service", "MODIFIED", replace(SVC, labels=(("app", "x"),)), False),  # labels: not DNS
    ("Service", "MODIFIED", replace(SVC, ports=(Port("http", "TCP", 81),)), True),  # port
    ("Service", "MODIFIED", replace(SVC, cluster_ips=("10.0.0.2",)), True),
    ("Service", "MODIFIED", SVC, False),  # the same object again
    ("Service", "ADDED", replace(SVC, name="other"), True),
    ("Service", "DELETED", SVC, True),
    ("Service", "DELETED", replace(SVC, name="never-seen"), False),
    ("EndpointSlice", "MODIFIED", replace(SLICE, endpoints=(
        Endpoint(("10.1.0.1",), hostname="h", node_name="n2"),)), False),  # node: not DNS
    ("EndpointSlice", "MODIFIED", replace(SLICE, endpoints=(
        Endpoint(("10.1.0.1",), hostname="h", ready=False),)), True),  # readiness
    ("EndpointSlice", "MODIFIED", replace(SLICE, endpoints=(
        Endpoint(("10.1.0.1",), hostname="g"),)), True),  # hostname
    ("EndpointSlice", "DELETED", SLICE, True),
    ("Pod", "MODIFIED", replace(POD, ip="10.1.0.2"), True),  # pod IP change
    ("Pod", "MODIFIED", POD, False),
    ("Pod", "DELETED", POD, True),
    ("Namespace", "ADDED", Namespace("new"), False),  # CoreDNS's namespace watch: no serial
    ("Namespace", "DELETED", Namespace("testns"), False),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "event", "obj", "moves"), SERIAL)
def test_serial_moves_on_dns_changes_only(
    kind: Kind, event: EventType, obj: KubeObject, moves: bool
) -> None:
    clock = Clock()
    index = listed(clock)
    assert index.serial == 1000
    clock.now = 2000.0
    index.apply(kind, event, obj)
    assert index.serial == (2000 if moves else 1000)


def test_relist_moves_the_serial_only_when_something_changed() -> None:
    clock = Clock()
    index = listed(clock)
    changes = index.changes
    clock.now = 2000.0
    index.replace("Service", [SVC])
    index.replace("EndpointSlice", [SLICE])
    assert (index.serial, index.changes) == (1000, changes)
    index.replace("Service", [SVC, replace(SVC, name="two", cluster_ips=("10.0.0.2",))])
    assert index.serial == 2000


def test_serial_is_32_bits() -> None:
    clock = Clock()
    clock.now = float(2**32 + 7)
    assert listed(clock).serial == 7


def test_relist_swaps_the_lookups_too() -> None:
    index = listed(Clock())
    moved = replace(SVC, cluster_ips=("10.0.0.9",))
    index.replace("Service", [moved])
    assert index.services_with_ip("10.0.0.1") == []
    assert index.services_with_ip("10.0.0.9") == [moved]
    index.replace("EndpointSlice", [])
    assert index.slices_with_ip("10.1.0.1") == []
    assert list(index.slices_of("testns", "web")) == []


def test_events_keep_the_lookups() -> None:
    index = listed(Clock())
    relabelled = replace(SLICE, service="api")
    index.apply("EndpointSlice", "MODIFIED", relabelled)
    assert list(index.slices_of("testns", "web")) == []
    assert list(index.slices_of("testns", "api")) == [relabelled]
    not_ready = replace(relabelled, endpoints=(Endpoint(("10.1.0.1",), ready=False),))
    index.apply("EndpointSlice", "MODIFIED", not_ready)
    assert index.slices_with_ip("10.1.0.1") == []
    index.apply("Pod", "MODIFIED", replace(POD, ip="10.1.0.2"))
    assert (index.pods_with_ip("testns", "10.1.0.1"), index.pods_with_ip("testns", "10.1.0.2")) == (
        0,
        1,
    )


def test_known_hands_back_the_held_copy_of_an_unchanged_object() -> None:
    """A re-list's fresh copy of an unchanged object is swapped for the held one (one copy in
    memory); a changed or unknown object, or a namespace, passes through as it is."""
    index = listed(Clock())
    for held in (SVC, SLICE, POD):
        fresh = replace(held)
        assert fresh == held
        assert fresh is not held
        assert index.known(fresh) is held
    changed = replace(POD, ip="10.1.0.9")
    assert index.known(changed) is changed
    unknown = replace(SVC, namespace="other")
    assert index.known(unknown) is unknown
    ns = Namespace("testns")
    assert index.known(ns) is ns


def test_shared_addresses_are_counted_per_owner() -> None:
    """Two slices with one IP, two pods with one IP: removing one owner keeps the other."""
    index = listed(Clock())
    twin = replace(SLICE, name="web-b")
    index.apply("EndpointSlice", "ADDED", twin)
    assert index.slices_with_ip("10.1.0.1") == [SLICE, twin]
    index.apply("EndpointSlice", "DELETED", SLICE)
    assert index.slices_with_ip("10.1.0.1") == [twin]
    index.apply("Pod", "ADDED", replace(POD, name="web-1"))
    index.apply("Pod", "ADDED", replace(POD, namespace="other"))
    assert index.pods_with_ip("testns", "10.1.0.1") == 2
    assert index.pods_with_ip("other", "10.1.0.1") == 1
    index.apply("Pod", "DELETED", POD)
    assert index.pods_with_ip("testns", "10.1.0.1") == 1
    index.replace("Pod", [])
    assert index.pods_with_ip("other", "10.1.0.1") == 0


def test_ip_map_keeps_owners_in_arrival_order() -> None:
    """One owner, several, back to one and none: every step answers the owners in order."""
    owners = IpMap()
    a, b, c = ("ns", "a"), ("ns", "b"), ("ns", "c")
    owners.add("10.0.0.1", a)
    owners.add("10.0.0.1", a)
    assert owners.get("10.0.0.1") == (a,)
    owners.add("10.0.0.1", b)
    owners.add("10.0.0.1", c)
    assert owners.get("10.0.0.1") == (a, b, c)
    owners.remove("10.0.0.1", b)
    assert owners.get("10.0.0.1") == (a, c)
    owners.remove("10.0.0.1", a)
    assert owners.get("10.0.0.1") == (c,)
    owners.remove("10.0.0.1", a)  # not an owner any more: nothing happens
    owners.add("10.0.0.1", b)
    assert owners.get("10.0.0.1") == (c, b)
    owners.remove("10.0.0.1", b)
    owners.remove("10.0.0.1", c)
    assert owners.get("10.0.0.1") == ()
    assert owners.get("10.0.0.2") == ()


def test_synced_callbacks_run_once() -> None:
    index = Index()
    calls: list[str] = []
    index.when_synced(lambda: calls.append("early"))
    assert not index.synced
    index.mark_synced()
    index.mark_synced()
    index.when_synced(lambda: calls.append("late"))
    assert calls == ["early", "late"]


async def test_a_relist_never_loses_a_name_that_stays() -> None:
    # §17: a re-list (410 Gone) swaps the kind in one step; names in both lists keep answering
    h = handler()
    name = "svc1." + T
    check(await ask(h, name), ok(a(name, "10.0.0.1")))
    survivors = [s for s in h.index.services.values() if s.name != "dual"]
    h.index.replace("Service", survivors)
    check(await ask(h, name), ok(a(name, "10.0.0.1")))
    check(await ask(h, "dual." + T), nx())


async def test_endpoint_readiness_changes_headless_answers() -> None:
    # §7: an endpoint that stops being ready leaves the answer at once
    h = handler()
    name = "hdls-noports." + T
    check(await ask(h, name), ok(a(name, "10.244.6.1")))
    [s] = h.index.slices_of("testns", "hdls-noports")
    h.index.apply(
        "EndpointSlice", "MODIFIED", replace(s, endpoints=(Endpoint(("10.244.6.1",), ready=False),))
    )
    check(await ask(h, name), nx())
