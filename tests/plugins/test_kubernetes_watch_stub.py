"""kubernetes: the watch side's requests, checked against a stub that records every query."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.controller import PROGRAMMING_DURATION, Controller
from kdns.plugins.kubernetes.convert import TRIGGER_TIME_ANNOTATION
from kdns.plugins.kubernetes.objects import Kind, Pod
from kdns.plugins.kubernetes.selector import parse_selector

from .kube_support import FAST, PATHS, RecordingSink, Stub, until

ZONES = ("cluster.local.",)
Lists = list[tuple[Kind, str, int]]


def service(name: str, ip: str = "10.0.0.1", ns: str = "prod") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip}}


def slice_(name: str, svc: str, ip: str, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "prod",
        "labels": {"kubernetes.io/service-name": svc},
    }
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "addressType": "IPv4", "endpoints": [{"addresses": [ip]}]}


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    server.put("Namespace", {"metadata": {"name": "prod"}})
    server.put("Service", service("web"))
    server.start()
    yield server
    if server.running:
        server.stop()


@pytest.fixture
async def watching(stub: Stub) -> AsyncIterator[tuple[Controller, RecordingSink, Lists]]:
    sink = RecordingSink()
    lists: Lists = []
    config = KubernetesConfig(zones=ZONES, endpoint=stub.url)
    controller = Controller(
        config, sink, backoff=FAST, on_list=lambda *a: lists.append(a), resync=0
    )
    await controller.start()
    assert await controller.wait_synced(5)
    yield controller, sink, lists
    await controller.stop()


def requests(stub: Stub, kind: str, watch: bool) -> list[dict[str, str]]:
    return [q for p, q in stub.queries if p == PATHS[kind] and (q.get("watch") == "true") == watch]


async def test_lists_are_paginated_and_handed_over_whole(stub: Stub) -> None:
    for i in range(7):
        stub.put("Service", service(f"s{i}", f"10.0.1.{i}"))
    sink = RecordingSink()
    controller = Controller(
        KubernetesConfig(zones=ZONES, endpoint=stub.url), sink, backoff=FAST, page_size=3, resync=0
    )
    await controller.start()
    try:
        assert await controller.wait_synced(5)
    finally:
        await controller.stop()
    replaces = [c for c in sink.calls if c[:2] == ("replace", "Service")]
    assert len(replaces) == 1
    assert len(replaces[0][2]) == 8
    pages = requests(stub, "Service", watch=False)
    assert [q.get("continue") for q in pages] == [None, "3", "6"]
    assert {q["limit"] for q in pages} == {"3"}


async def test_selectors_pods_and_noendpoints_shape_the_requests(stub: Stub) -> None:
    running = {"metadata": {"name": "p1", "namespace": "prod"}, "status": {"podIP": "10.1.0.7"}}
    stub.put("Pod", running)
    stub.put("Pod", {"metadata": {"name": "p2", "namespace": "prod"}, "status": {}})
    config = KubernetesConfig(
        zones=ZONES,
        endpoint=stub.url,
        labels=parse_selector("app=web"),
        namespace_labels=parse_selector("team in (b,a)"),
        pods="verified",
        noendpoints=True,
    )
    sink = RecordingSink()
    controller = Controller(config, sink, backoff=FAST, resync=0)
    await controller.start()
    try:
        assert await controller.wait_synced(5)
        await until(lambda: len(requests(stub, "Pod", watch=True)) >= 1)
    finally:
        await controller.stop()
    assert not requests(stub, "EndpointSlice", watch=False)
    for kind in ("Service", "Pod"):
        for query in requests(stub, kind, watch=False) + requests(stub, kind, watch=True):
            assert query["labelSelector"] == "app=web"
    pod_watch = requests(stub, "Pod", watch=True)[0]
    assert pod_watch["fieldSelector"] == (
        "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"
    )
    assert requests(stub, "Namespace", watch=False)[0]["labelSelector"] == "team in (a,b)"
    assert sink.state["Pod"] == {("prod", "p1"): Pod("prod", "p1", "10.1.0.7")}  # p2: no IP yet


async def test_a_watch_resumes_from_the_last_bookmark(
    stub: Stub, watching: tuple[Controller, RecordingSink, Lists]
) -> None:
    controller, _, _ = watching
    bookmark = stub.bookmark("Service")
    await until(lambda: controller.watchers["Service"].resource_version == str(bookmark))
    stub.cut()
    await until(lambda: len(requests(stub, "Service", watch=True)) >= 2)
    first, *_, last = requests(stub, "Service", watch=True)
    assert first["allowWatchBookmarks"] == "true"
    assert int(first["resourceVersion"]) < bookmark  # the list's version
    assert last["resourceVersion"] == str(bookmark)
    assert stub.lists[PATHS["Service"]] == 1


async def test_resync_repairs_silently_lost_events(
    stub: Stub, watching: tuple[Controller, RecordingSink, Lists]
) -> None:
    controller, sink, lists = watching
    stub.delete("Service", "web", "prod", silent=True)
    stub.put("Service", service("ghost", "10.0.0.7"), silent=True)
    controller.resync()
    await sink.until(lambda: sink.names("Service") == {"ghost"})
    assert ("Service", "resync", 1) in lists
    assert not sink.events("web")  # swapped in whole, not deleted event by event


async def test_periodic_resync(stub: Stub) -> None:
    sink = RecordingSink()
    lists: Lists = []
    config = KubernetesConfig(zones=ZONES, endpoint=stub.url)
    controller = Controller(
        config, sink, backoff=FAST, resync=0.05, on_list=lambda *a: lists.append(a)
    )
    await controller.start()
    try:
        assert await controller.wait_synced(5)
        stub.put("Service", service("missed", "10.0.0.8"), silent=True)
        await sink.until(lambda: "missed" in sink.names("Service"))
    finally:
        await controller.stop()
    assert ("Service", "resync", 2) in lists


async def test_programming_duration_counts_headless_services_only(stub: Stub) -> None:
    trigger = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    stub.put("Service", service("db", "None"))
    sink = RecordingSink()
    config = KubernetesConfig(zones=ZONES, endpoint=stub.url)
    controller = Controller(
        config, sink, backoff=FAST, resync=0, clock=lambda: trigger.timestamp() + 2.5
    )
    labels = ("headless_with_selector",)
    count = sum(PROGRAMMING_DURATION.counts.get(labels, []))
    total = PROGRAMMING_DURATION.sums.get(labels, 0.0)
    await controller.start()
    try:
        assert await controller.wait_synced(5)
        stamp = {TRIGGER_TIME_ANNOTATION: "2024-05-01T12:00:00.000000001Z"}
        stub.put("EndpointSlice", slice_("db-1", "db", "10.1.0.2", **stamp))
        stub.put("EndpointSlice", slice_("web-1", "web", "10.1.0.3", **stamp))
        await sink.until(lambda: {"db-1", "web-1"} <= sink.names("EndpointSlice"))
    finally:
        await controller.stop()
    assert sum(PROGRAMMING_DURATION.counts[labels]) == count + 1  # not web's: it has a ClusterIP
    assert PROGRAMMING_DURATION.sums[labels] == pytest.approx(total + 2.5, abs=1e-3)
