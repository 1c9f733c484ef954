"""Changes while running: manifest reloads diffed into events, and the REST write verbs."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer, ManifestError

Http = Any  # the conftest client
EXAMPLE = Path(__file__).parents[3] / "examples" / "cluster.yaml"


@pytest.fixture
async def live(tmp_path: Path) -> Any:
    """A server over a copy of the example that the test may edit."""
    path = tmp_path / "cluster.yaml"
    shutil.copy(EXAMPLE, path)
    server = ApiServer([path], poll_interval=0)
    await server.start()
    yield server, path
    await server.stop()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


async def test_reload_turns_file_changes_into_events(live: Any, client_for: Any) -> None:
    """Editing, adding and removing manifests gives MODIFIED, ADDED and DELETED events for
    exactly those objects (and their slices); untouched objects keep their version."""
    server, path = live
    http = client_for(server.url)
    rv = server.resource_version
    untouched = server.get("svc", "kube-system", "kube-dns")
    svc_watch = await http.watch(f"/api/v1/services?watch=1&resourceVersion={rv}")
    slice_watch = await http.watch(
        f"/apis/discovery.k8s.io/v1/endpointslices?watch=1&resourceVersion={rv}"
    )
    await server.wait_for_watches(2)
    edit(path, "clusterIP: 10.3.0.20", "clusterIP: 10.3.0.21")
    edit(path, "  podIP: 10.2.7.21\n", "  podIP: 10.2.7.99\n")
    text = path.read_text()
    start = text.index("apiVersion: v1\nkind: Service\nmetadata:\n  name: search")
    end = text.index("---", start)
    path.write_text(
        text[:start] + text[end + 4 :] + "---\napiVersion: v1\nkind: Service\n"
        "metadata: {name: extra, namespace: default}\nspec: {ports: [{port: 1}]}\n"
    )
    assert server.reload() == 4  # api, web-1, extra; search deleted
    events = [await svc_watch.next() for _ in range(3)]
    assert sorted((e["type"], e["object"]["metadata"]["name"]) for e in events) == [
        ("ADDED", "extra"),
        ("DELETED", "search"),
        ("MODIFIED", "api"),
    ]
    changed = await slice_watch.next()
    assert changed["type"] == "MODIFIED"
    addresses = [ep["addresses"][0] for ep in changed["object"]["endpoints"]]
    assert sorted(addresses) == ["10.2.6.20", "10.2.7.99"]
    assert server.get("svc", "kube-system", "kube-dns") == untouched
    assert server.reload() == 0  # nothing changed since


async def test_reload_does_not_count_as_a_list(live: Any, client_for: Any) -> None:
    """The list counter sees client lists only, so a test can tell a re-list from a reload."""
    server, path = live
    await client_for(server.url).get("/api/v1/services")
    edit(path, "port: 443", "port: 8443")
    server.reload()
    assert server.list_calls == {"services": 1}


async def test_file_changes_are_picked_up_by_polling(tmp_path: Path, client_for: Any) -> None:
    """A running server notices a changed file by itself."""
    path = tmp_path / "cluster.yaml"
    shutil.copy(EXAMPLE, path)
    async with ApiServer([path], poll_interval=0.01) as server:
        http = client_for(server.url)
        rv = server.resource_version
        stream = await http.watch(f"/api/v1/namespaces?watch=1&resourceVersion={rv}")
        await server.wait_for_watches(1)
        with path.open("a") as f:
            f.write("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: late}\n")
        event = await stream.next()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "late")


async def test_bad_manifest_changes_nothing(live: Any) -> None:
    """A reload of a broken file raises with file:line and leaves the cluster as it was."""
    server, path = live
    rv = server.resource_version
    path.write_text(path.read_text() + "---\nkind: Service\n  bad: [\n")
    with pytest.raises(ManifestError, match=r"cluster\.yaml:\d+:\d+"):
        server.reload()
    assert server.resource_version == rv


async def test_unknown_kinds_are_ignored_with_a_warning(tmp_path: Path) -> None:
    """A StatefulSet in the manifests is not served, and the server says so."""
    path = tmp_path / "m.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: d}\n---\n"
        "kind: List\nitems:\n- {kind: Namespace, metadata: {name: listed}}\n"
    )
    server = ApiServer([path])
    server.load()
    assert server.get("ns", "", "listed") is not None
    assert server.warnings == [f"{path}: kind 'StatefulSet' is not served; ignored"]


async def test_json_manifests_load(tmp_path: Path) -> None:
    """A .json manifest (the fast format for big clusters) loads like YAML."""
    path = tmp_path / "big.json"
    pods = [
        {
            "kind": "Pod",
            "metadata": {"name": f"p{i}", "labels": {"app": "x"}},
            "status": {"podIP": f"10.2.0.{i + 1}"},
        }
        for i in range(3)
    ]
    svc = {"kind": "Service", "metadata": {"name": "x"}, "spec": {"selector": {"app": "x"}}}
    path.write_text(json.dumps({"kind": "List", "items": [svc, *pods]}))
    server = ApiServer([path])
    server.load()
    (slice_,) = server.list("endpointslices", "default")["items"]
    assert len(slice_["endpoints"]) == 3


async def test_rest_writes(http: Http, server: ApiServer) -> None:
    """POST creates (201, 409 twice), PUT replaces (409 when stale), merge PATCH merges,
    DELETE removes (404 after), each at a new resourceVersion."""
    base = "/api/v1/namespaces/default/services"
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "w"},
        "spec": {"ports": [{"port": 80}]},
    }
    created = await http.request("POST", base, body)
    assert created.status == 201
    obj = created.json()
    assert obj["metadata"]["namespace"] == "default"
    assert obj["spec"]["clusterIP"]
    assert (await http.request("POST", base, body)).status == 409
    obj["spec"]["ports"] = [{"port": 81}]
    put = await http.request("PUT", f"{base}/w", obj)
    assert put.status == 200
    assert put.json()["spec"]["ports"][0]["port"] == 81
    assert put.json()["metadata"]["uid"] == obj["metadata"]["uid"]
    stale = await http.request("PUT", f"{base}/w", obj)
    assert stale.status == 409
    assert stale.json()["reason"] == "Conflict"
    patch = await http.request(
        "PATCH",
        f"{base}/w",
        {"metadata": {"labels": {"a": "b"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patch.json()["metadata"]["labels"] == {"a": "b"}
    assert patch.json()["spec"]["ports"][0]["port"] == 81
    versions = [int(r.json()["metadata"]["resourceVersion"]) for r in (created, put, patch)]
    assert versions == sorted(set(versions))
    json_patch = await http.request(
        "PATCH", f"{base}/w", [], headers={"Content-Type": "application/json-patch+json"}
    )
    assert json_patch.status == 415
    assert (await http.request("DELETE", f"{base}/w")).status == 200
    assert (await http.get(f"{base}/w")).status == 404
    assert (await http.request("DELETE", f"{base}/w")).status == 404


async def test_rest_write_errors(http: Http) -> None:
    """Missing namespaces, mismatched names and bodies that are not objects are refused."""
    body = {"kind": "Service", "metadata": {"name": "x"}, "spec": {}}
    nowhere = await http.request("POST", "/api/v1/namespaces/nope/services", body)
    assert nowhere.status == 404
    other = {"kind": "Service", "metadata": {"name": "x", "namespace": "kube-system"}}
    assert (await http.request("POST", "/api/v1/namespaces/default/services", other)).status == 400
    renamed = await http.request("PUT", "/api/v1/namespaces/default/services/web", body)
    assert renamed.status == 400
    assert (await http.request("POST", "/api/v1/namespaces/default/pods", b"[1]")).status == 400
    assert (await http.request("POST", "/api/v1/namespaces/default/pods", b"{")).status == 400
    assert (await http.request("POST", "/api/v1/services", body)).status == 405


async def test_pod_write_rederives_slices_for_watchers(http: Http, server: ApiServer) -> None:
    """Creating a pod over HTTP is seen as a slice change by an EndpointSlice watch."""
    rv = server.resource_version
    stream = await http.watch(
        f"/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?watch=1&resourceVersion={rv}"
    )
    await server.wait_for_watches(1)
    new = {
        "kind": "Pod",
        "metadata": {"name": "coredns-3", "labels": {"k8s-app": "kube-dns"}},
        "status": {"podIP": "10.2.8.12"},
    }
    reply = await http.request("POST", "/api/v1/namespaces/kube-system/pods", new)
    assert reply.status == 201
    event = await stream.next()
    assert event["type"] == "MODIFIED"
    ips = sorted(ep["addresses"][0] for ep in event["object"]["endpoints"])
    assert ips == ["10.2.6.10", "10.2.7.11", "10.2.8.12"]
    deleted = await http.request("DELETE", "/api/v1/namespaces/kube-system")
    assert deleted.status == 200
    kinds = [(await stream.next())["type"] for _ in range(1)]
    assert kinds == ["DELETED"]
    assert (await http.get("/api/v1/namespaces/kube-system/pods")).json()["items"] == []


async def test_namespace_delete_is_seen_by_every_watch(server: ApiServer, http: Http) -> None:
    """Deleting a namespace deletes its services, pods and slices, each with an event."""
    rv = server.resource_version
    stream = await http.watch(f"/api/v1/services?watch=1&resourceVersion={rv}")
    await server.wait_for_watches(1)
    server.delete("namespaces", "", "kube-system")
    event = await asyncio.wait_for(stream.next(), 5)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("DELETED", "kube-dns")
