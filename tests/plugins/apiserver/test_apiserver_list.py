"""Discovery, get and list as clients see them: selectors, pagination, versions, Table, errors."""

from __future__ import annotations

from typing import Any

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer

Http = Any  # the conftest client


def names(doc: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in doc["items"]]


async def test_discovery_documents_name_the_served_resources(http: Http) -> None:
    """kubectl's discovery finds v1 and discovery.k8s.io/v1 with the resources and short names."""
    api = (await http.get("/api")).json()
    assert api["kind"] == "APIVersions"
    assert api["versions"] == ["v1"]
    groups = (await http.get("/apis")).json()
    assert [g["name"] for g in groups["groups"]] == [
        "discovery.k8s.io",
        "multicluster.x-k8s.io",
        "apps",
        "policy",
        "rbac.authorization.k8s.io",
    ]
    assert groups["groups"][0]["preferredVersion"]["groupVersion"] == "discovery.k8s.io/v1"
    core = {r["name"]: r for r in (await http.get("/api/v1")).json()["resources"]}
    assert set(core) == {
        "namespaces",
        "services",
        "pods",
        "configmaps",
        "serviceaccounts",
    }
    assert core["services"]["shortNames"] == ["svc"]
    assert core["services"]["namespaced"]
    assert not core["namespaces"]["namespaced"]
    assert "watch" in core["pods"]["verbs"]
    disc = (await http.get("/apis/discovery.k8s.io/v1")).json()
    assert [r["kind"] for r in disc["resources"]] == ["EndpointSlice"]
    assert (await http.get("/version")).json()["major"] == "1"
    missing = await http.get("/openapi/v2")
    assert missing.status == 404
    assert missing.json()["kind"] == "Status"


async def test_cluster_wide_and_namespaced_lists(http: Http, server: ApiServer) -> None:
    """Lists are in namespace/name order and carry the current resourceVersion."""
    every = (await http.get("/api/v1/services")).json()
    assert every["kind"] == "ServiceList"
    assert every["apiVersion"] == "v1"
    assert names(every) == ["api", "dual", "kubernetes", "search", "web", "kube-dns"]
    assert every["metadata"]["resourceVersion"] == str(server.resource_version)
    system = (await http.get("/api/v1/namespaces/kube-system/services")).json()
    assert names(system) == ["kube-dns"]
    slices = (await http.get("/apis/discovery.k8s.io/v1/endpointslices")).json()
    assert slices["kind"] == "EndpointSliceList"
    assert slices["apiVersion"] == "discovery.k8s.io/v1"
    assert len(slices["items"]) == 6
    ns = (await http.get("/api/v1/namespaces")).json()
    assert names(ns) == ["default", "kube-node-lease", "kube-public", "kube-system"]


async def test_get_one_object_and_not_found(http: Http) -> None:
    """GET by name returns the object; a missing one is a 404 Status."""
    svc = (await http.get("/api/v1/namespaces/kube-system/services/kube-dns")).json()
    assert svc["spec"]["clusterIP"] == "10.3.0.10"
    assert int(svc["metadata"]["resourceVersion"]) > 0
    assert svc["metadata"]["uid"]
    ns = (await http.get("/api/v1/namespaces/kube-system")).json()
    assert ns["kind"] == "Namespace"
    assert ns["status"]["phase"] == "Active"
    missing = await http.get("/api/v1/namespaces/default/services/nope")
    assert missing.status == 404
    assert missing.json()["reason"] == "NotFound"
    assert missing.json()["code"] == 404
    assert (await http.get("/api/v1/namespaces/default/nonsense")).status == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("labelSelector=k8s-app%3Dkube-dns", ["kube-dns"]),
        ("labelSelector=app+in+(web,api)", ["web"]),
        ("labelSelector=!k8s-app", ["api", "dual", "kubernetes", "search", "web"]),
        ("fieldSelector=metadata.name%3Dweb", ["web"]),
        ("fieldSelector=spec.type!%3DClusterIP", ["search"]),
        ("fieldSelector=metadata.namespace%3Dkube-system", ["kube-dns"]),
        ("fieldSelector=spec.clusterIP%3DNone", ["web"]),
    ],
)
async def test_selectors_on_services(http: Http, query: str, expected: list[str]) -> None:
    """Label and field selectors filter lists as the real API does."""
    assert names((await http.get(f"/api/v1/services?{query}")).json()) == expected


async def test_pod_phase_field_selector(http: Http, server: ApiServer) -> None:
    """`status.phase!=Succeeded,status.phase!=Failed` (CoreDNS's pod watch) drops done pods."""
    server.apply(
        {
            "kind": "Pod",
            "metadata": {"name": "job-1", "namespace": "default"},
            "status": {"phase": "Succeeded", "podIP": "10.2.9.9"},
        }
    )
    every = names((await http.get("/api/v1/pods")).json())
    selector = "status.phase!%3DSucceeded,status.phase!%3DFailed"
    running = names((await http.get(f"/api/v1/pods?fieldSelector={selector}")).json())
    assert "job-1" in every
    assert "job-1" not in running
    assert len(running) == len(every) - 1


@pytest.mark.parametrize(
    "query",
    ["fieldSelector=spec.nope%3Dx", "labelSelector=a+%3C+b", "limit=x", "continue=%%%"],
)
async def test_bad_queries_are_400(http: Http, query: str) -> None:
    """Unsupported fields, bad selectors and bad tokens are refused with a 400 Status."""
    reply = await http.get(f"/api/v1/services?{query}")
    assert reply.status == 400
    assert reply.json()["reason"] == "BadRequest"


async def test_pagination_walks_the_list_at_one_version(http: Http, server: ApiServer) -> None:
    """limit/continue pages cover every item once, each page at the first page's version."""
    first = (await http.get("/api/v1/pods?limit=2")).json()
    assert len(first["items"]) == 2
    assert first["metadata"]["remainingItemCount"] == 4
    seen, page = names(first), first
    while token := page["metadata"].get("continue"):
        page = (await http.get(f"/api/v1/pods?limit=2&continue={token}")).json()
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        seen += names(page)
    assert seen == names((await http.get("/api/v1/pods")).json())
    assert "continue" not in page["metadata"]


async def test_pagination_with_a_selector_and_namespace(http: Http) -> None:
    """Pages of a filtered list hold only matching items and no remaining count."""
    page = (await http.get("/api/v1/namespaces/default/pods?limit=1&labelSelector=app")).json()
    assert len(page["items"]) == 1
    assert "remainingItemCount" not in page["metadata"]
    seen = names(page)
    while token := page["metadata"].get("continue"):
        query = f"limit=1&labelSelector=app&continue={token}"
        page = (await http.get(f"/api/v1/namespaces/default/pods?{query}")).json()
        seen += names(page)
    assert seen == ["api-7c9d8b6f5-x2x8z", "dual-6b8f7d9c4-k9m2p", "web-0", "web-1"]


async def test_continue_token_older_than_the_window_is_410(http: Http, server: ApiServer) -> None:
    """A continue token from before the kept window is Gone (reason Expired)."""
    token = (await http.get("/api/v1/pods?limit=1")).json()["metadata"]["continue"]
    server.expire()
    reply = await http.get(f"/api/v1/pods?limit=1&continue={token}")
    assert reply.status == 410
    assert reply.json()["reason"] == "Expired"
    assert reply.json()["code"] == 410


async def test_list_resource_versions(http: Http, server: ApiServer) -> None:
    """resourceVersion in the future times out (504); Exact on an old one is 410."""
    rv = server.resource_version
    assert (await http.get(f"/api/v1/services?resourceVersion={rv}")).status == 200
    assert (await http.get("/api/v1/services?resourceVersion=0")).status == 200
    assert (await http.get(f"/api/v1/services?resourceVersion={rv + 5}")).status == 504
    old = await http.get(f"/api/v1/services?resourceVersion={rv - 1}&resourceVersionMatch=Exact")
    assert old.status == 410


async def test_table_for_kubectl(http: Http) -> None:
    """`Accept: ...as=Table` gets kubectl's columns and cells; the row carries metadata."""
    reply = await http.get(
        "/api/v1/namespaces/kube-system/services", headers={"Accept": http.TABLE}
    )
    doc = reply.json()
    assert doc["kind"] == "Table"
    assert doc["apiVersion"] == "meta.k8s.io/v1"
    columns = [c["name"] for c in doc["columnDefinitions"]]
    assert columns[:6] == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    (row,) = doc["rows"]
    assert row["cells"][:5] == ["kube-dns", "ClusterIP", "10.3.0.10", "<none>", "53/UDP,53/TCP"]
    assert row["cells"][6] == "k8s-app=kube-dns"
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["namespace"] == "kube-system"
    slices = (
        await http.get("/apis/discovery.k8s.io/v1/endpointslices", headers={"Accept": http.TABLE})
    ).json()
    cells = {r["cells"][0].split("-")[0]: r["cells"] for r in slices["rows"]}
    assert cells["web"][1:4] == ["IPv4", "80", "10.2.6.20,10.2.7.21"]
    pods = (
        await http.get("/api/v1/namespaces/default/pods/web-0", headers={"Accept": http.TABLE})
    ).json()
    assert pods["rows"][0]["cells"][:4] == ["web-0", "1/1", "Running", 0]


async def test_only_json_and_table_are_served(http: Http) -> None:
    """A client that accepts only protobuf gets 406; one that accepts anything gets JSON."""
    proto = await http.get(
        "/api/v1/services", headers={"Accept": "application/vnd.kubernetes.protobuf"}
    )
    assert proto.status == 406
    anything = await http.get("/api/v1/services", headers={"Accept": "*/*"})
    assert anything.json()["kind"] == "ServiceList"


async def test_keep_alive_serves_several_requests_on_one_connection(http: Http) -> None:
    """HTTP/1.1 clients reuse the connection; Connection: close ends it."""
    conn = await http.connect()
    a = await http.get("/api/v1/namespaces", conn=conn)
    b = await http.get("/api/v1/services", conn=conn)
    c = await http.get("/version", conn=conn, headers={"Connection": "close"})
    assert (a.status, b.status, c.status) == (200, 200, 200)
    assert c.headers["connection"] == "close"
    assert await conn[0].read() == b""
    conn[1].close()


async def test_list_calls_are_counted(http: Http, server: ApiServer) -> None:
    """The test hook counts collection GETs per resource, not gets or discovery."""
    await http.get("/api/v1/services")
    await http.get("/api/v1/namespaces/default/services?limit=1")
    await http.get("/api/v1/namespaces/default/services/web")
    await http.get("/api/v1")
    assert server.list_calls["services"] == 2
    assert server.list_calls["pods"] == 0
