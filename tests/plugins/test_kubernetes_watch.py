"""kubernetes: the watch side keeps the index in step with the project's API server, through
streams cut, history expired, the server gone and back, and events silently lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.controller import RELISTS, WATCH_UP, Controller
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.objects import EndpointSlice, Kind, Pod, Port, Service
from kdns.plugins.kubernetes.selector import parse_selector
from kdns.plugins.kubernetes.watcher import Watcher

from .kube_support import FAST, RecordingSink, until

ZONES = ("cluster.local.",)
Lists = list[tuple[Kind, str, int]]


def service(name: str, ns: str = "prod", **spec: Any) -> dict[str, Any]:
    spec = {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}], **spec}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def pod(name: str, app: str, ip: str, ns: str = "prod", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]},
        "status": {"podIP": ip, **status},
    }


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    api = ApiServer()
    await api.start()
    api.apply(service("web"))
    api.apply(pod("web-0", "web", "10.244.0.5"))
    yield api
    await api.stop()


class Watching:
    """A started controller with its recording sink and the lists it reported."""

    def __init__(self, server: ApiServer, **config: Any) -> None:
        self.sink = RecordingSink()
        self.lists: Lists = []
        self.controller = Controller(
            KubernetesConfig(zones=ZONES, endpoint=server.url, **config),
            self.sink,
            backoff=FAST,
            resync=0,
            on_list=lambda *a: self.lists.append(a),
        )

    async def __aenter__(self) -> Watching:
        await self.controller.start()
        assert await self.controller.wait_synced(5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.controller.stop()


@pytest.fixture
async def watching(server: ApiServer) -> AsyncIterator[Watching]:
    async with Watching(server) as w:
        await server.wait_for_watches(3)
        yield w


async def test_first_sync_converts_every_kind_and_marks_synced_once(watching: Watching) -> None:
    sink = watching.sink
    assert watching.controller.synced
    assert sink.synced == 1
    assert sink.calls[-1] == ("synced",)
    (web,) = sink.state["Service"].values()
    assert isinstance(web, Service)
    assert web.kind == "ClusterIP"
    assert len(web.cluster_ips) == 1
    assert web.ports == (Port("http", "TCP", 80),)
    assert {"default", "kube-system", "prod"} <= sink.names("Namespace")
    (slice_,) = sink.state["EndpointSlice"].values()
    assert isinstance(slice_, EndpointSlice)
    assert slice_.service == "web"
    (endpoint,) = slice_.endpoints
    assert endpoint.addresses == ("10.244.0.5",)
    assert endpoint.ready
    assert endpoint.pod_name == "web-0"
    assert "Pod" not in sink.state  # pods are watched only for `pods verified`
    assert sorted(k for k, reason, _ in watching.lists) == ["EndpointSlice", "Namespace", "Service"]
    assert {reason for _, reason, _ in watching.lists} == {"initial"}
    assert sink.threads == {threading.get_ident()}  # the index is only touched on the loop
    await until(lambda: all(WATCH_UP.get((k,)) == 1.0 for k in watching.controller.kinds))


async def test_add_modify_delete_reach_the_sink_in_order(
    server: ApiServer, watching: Watching
) -> None:
    sink = watching.sink
    server.apply(service("api"))
    await sink.until(lambda: "api" in sink.names("Service"))
    server.apply(service("api", ports=[{"name": "grpc", "port": 9000}]))
    await sink.until(lambda: sink.state["Service"][("prod", "api")].ports[0].name == "grpc")
    server.delete("services", "prod", "api")
    await sink.until(lambda: "api" not in sink.names("Service"))
    assert sink.events("api") == ["ADDED", "MODIFIED", "DELETED"]
    server.apply(pod("web-1", "web", "10.244.0.6"))  # the slice follows the pods
    await sink.until(
        lambda: (
            {
                a
                for s in sink.state["EndpointSlice"].values()
                for e in s.endpoints
                for a in e.addresses
            }
            == {"10.244.0.5", "10.244.0.6"}
        )
    )
    assert server.list_calls["services"] == 1  # events, not re-lists


async def test_a_cut_stream_reconnects_without_losing_events(
    server: ApiServer, watching: Watching
) -> None:
    sink = watching.sink
    assert server.cut_watches() >= 3
    server.apply(service("late"))  # lands while the client reconnects
    await sink.until(lambda: "late" in sink.names("Service"))
    server.cut_watches(abort=False)
    server.apply(service("later"))
    await sink.until(lambda: "later" in sink.names("Service"))
    assert server.list_calls["services"] == 1  # replayed from the resourceVersion, no re-list
    assert server.watch_calls["services"] >= 3


async def test_bookmarks_advance_the_resource_version(
    server: ApiServer, watching: Watching
) -> None:
    watcher: Watcher = watching.controller.watchers["Service"]
    server.apply(pod("other", "nobody", "10.244.0.9"))  # versions move on, nothing for services
    server.send_bookmarks()
    await until(lambda: watcher.resource_version == str(server.resource_version))
    server.cluster.store.compact()  # history before now is gone; now itself is still valid
    server.cut_watches()
    await server.wait_for_watches(1, "services")
    server.apply(service("after"))
    await watching.sink.until(lambda: "after" in watching.sink.names("Service"))
    assert server.list_calls["services"] == 1  # resumed from the bookmark: no 410, no re-list


async def test_410_gone_relists_and_swaps_in_one_replace(
    server: ApiServer, watching: Watching
) -> None:
    sink = watching.sink
    before = RELISTS.get(("Service", "gone"))
    server.cluster.apply(service("quiet"), record=False)  # a change the watch never saw
    server.expire()  # open watches get ERROR 410
    await sink.until(lambda: "quiet" in sink.names("Service"))
    assert ("Service", "gone", 2) in watching.lists
    assert RELISTS.get(("Service", "gone")) == before + 1
    assert not [c for c in sink.calls if c[0] == "apply" and c[2] == "DELETED"]
    replace = [c for c in sink.calls if c[:2] == ("replace", "Service")][-1]
    assert {o.name for o in replace[2]} == {"web", "quiet"}  # old and new names, atomically


async def test_a_relist_keeps_the_held_copy_of_what_did_not_change(server: ApiServer) -> None:
    """Behind a 410 the index keeps its own objects where nothing changed (a re-list never holds
    the cluster twice) and takes the new one where something did."""
    index = Index()
    config = KubernetesConfig(zones=ZONES, endpoint=server.url, pods="verified")
    controller = Controller(config, index, backoff=FAST, resync=0)
    await controller.start()
    try:
        assert await controller.wait_synced(5)
        await server.wait_for_watches(4)
        web, pod_ = index.services[("prod", "web")], index.pods[("prod", "web-0")]
        (slice_,) = index.slices.values()
        before = RELISTS.get(("Service", "gone"))
        server.cluster.apply(pod("web-0", "web", "10.244.0.9"), record=False)  # unseen change
        server.expire()
        await until(lambda: index.pods[("prod", "web-0")].ip == "10.244.0.9")
        await until(lambda: index.slices_with_ip("10.244.0.9") != [])
        await until(lambda: RELISTS.get(("Service", "gone")) == before + 1)
        assert index.services[("prod", "web")] is web
        assert index.pods[("prod", "web-0")] is not pod_
        (relisted,) = index.slices.values()
        assert relisted is not slice_
    finally:
        await controller.stop()


async def test_expired_history_on_reconnect_relists(server: ApiServer, watching: Watching) -> None:
    sink = watching.sink
    server.cluster.apply(service("quiet"), record=False)
    server.expire(notify=False)
    server.cut_watches()
    await sink.until(lambda: "quiet" in sink.names("Service"))
    assert ("Service", "gone", 2) in watching.lists


async def test_api_outage_keeps_the_data_and_resumes(server: ApiServer, watching: Watching) -> None:
    sink = watching.sink
    calls = len(sink.calls)
    await server.stop()
    await until(lambda: WATCH_UP.get(("Service",)) == 0.0)
    assert len(sink.calls) == calls  # nothing cleared: answers keep coming from the index
    assert sink.names("Service") == {"web"}
    server.apply(service("while-down"))
    await server.start()
    await sink.until(lambda: "while-down" in sink.names("Service"))
    await until(lambda: WATCH_UP.get(("Service",)) == 1.0)
    assert server.list_calls["services"] == 1  # resumed from its version, no re-list


async def test_resync_repairs_a_silently_lost_event(server: ApiServer, watching: Watching) -> None:
    sink = watching.sink
    server.cluster.apply(service("ghost"), record=False)
    watching.controller.resync()
    await sink.until(lambda: "ghost" in sink.names("Service"))
    assert ("Service", "resync", 2) in watching.lists


async def test_selectors_pods_verified_and_noendpoints(server: ApiServer) -> None:
    labelled = service("labelled")
    labelled["metadata"]["labels"] = {"dns": "yes"}
    server.apply(labelled)
    server.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team", "labels": {"dns": "yes"}},
        }
    )
    done = pod("done", "web", "10.244.0.7", phase="Succeeded")
    done["metadata"]["labels"]["dns"] = "yes"
    server.apply(done)
    running = pod("running", "web", "10.244.0.8")
    running["metadata"]["labels"]["dns"] = "yes"
    server.apply(running)
    config: dict[str, Any] = {
        "labels": parse_selector("dns=yes"),
        "namespace_labels": parse_selector("dns"),
        "pods": "verified",
        "noendpoints": True,
    }
    async with Watching(server, **config) as w:
        assert w.sink.names("Service") == {"labelled"}
        assert w.sink.names("Namespace") == {"team"}
        assert w.sink.state["Pod"] == {("prod", "running"): Pod("prod", "running", "10.244.0.8")}
        assert "EndpointSlice" not in w.sink.state
        server.apply({**running, "status": {"podIP": "10.244.0.8", "phase": "Failed"}})
        await w.sink.until(lambda: not w.sink.names("Pod"))  # left the field selector
    assert server.list_calls["endpointslices"] == 0


async def test_a_late_api_server_is_waited_for(server: ApiServer) -> None:
    await server.stop()
    w = Watching(server)
    await w.controller.start()
    try:
        assert not await w.controller.wait_synced(0.2)
        assert not w.controller.synced
        assert not w.sink.calls
        await server.start()
        assert await w.controller.wait_synced(5)
    finally:
        await w.controller.stop()
    assert w.sink.synced == 1


async def test_stop_ends_the_threads_and_drops_later_events(
    server: ApiServer, watching: Watching
) -> None:
    await watching.controller.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("kubernetes ")]
    calls = len(watching.sink.calls)
    server.apply(service("after-stop"))
    await asyncio.sleep(0.05)
    assert len(watching.sink.calls) == calls


async def test_later_pages_of_a_list_do_not_wait_for_the_rate_limit(server: ApiServer) -> None:
    """One paginated list is one request to the QPS limit: 40 pages at 1 QPS sync at once."""
    for i in range(400):
        server.apply(service(f"svc{i}"))
    sink = RecordingSink()
    controller = Controller(
        KubernetesConfig(zones=ZONES, endpoint=server.url, apiserver_qps=1, apiserver_burst=3),
        sink,
        backoff=FAST,
        resync=0,
        page_size=10,
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    await controller.start()
    try:
        assert await controller.wait_synced(20)
        elapsed = loop.time() - start
    finally:
        await controller.stop()
    assert len(sink.state["Service"]) == 401
    # three first pages (one per kind) fit the burst; 40 rate-limited pages would take ~40 s
    assert elapsed < 5, elapsed
