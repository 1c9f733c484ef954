"""ServiceImports (multicluster.x-k8s.io/v1alpha1) served as if the MCS CRD were installed, and
hand-written MCS EndpointSlices served as written, beside the slices the server derives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer

Http = Any  # the conftest client
Obj = dict[str, Any]
MCS_NAME = "multicluster.kubernetes.io/service-name"
IMPORTS = "/apis/multicluster.x-k8s.io/v1alpha1"

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  clusterIP: 10.3.0.50
  selector: {app: cart}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: cart-0, namespace: shop, labels: {app: cart}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.244.0.50}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: cart, namespace: shop}
spec:
  type: ClusterSetIP
  ips: [10.42.0.1]
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceImport
metadata: {name: db, namespace: shop}
spec:
  type: Headless
  ports: [{name: sql, port: 5432, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: cart-import-west
  namespace: shop
  labels:
    multicluster.kubernetes.io/service-name: cart
    multicluster.kubernetes.io/source-cluster: west
addressType: IPv4
endpoints: [{addresses: [10.1.0.1], hostname: cart-0, conditions: {ready: true}}]
ports: [{name: http, port: 8080, protocol: TCP}]
"""


@pytest.fixture
async def mcs(tmp_path: Path) -> AsyncIterator[ApiServer]:
    """A server over the manifest above."""
    path = tmp_path / "mcs.yaml"
    path.write_text(MANIFEST)
    async with ApiServer([path], poll_interval=0) as server:
        yield server


def names(doc: Obj) -> list[str]:
    return [item["metadata"]["name"] for item in doc["items"]]


async def test_discovery_shows_the_multicluster_group(http: Http) -> None:
    """/apis names the group; its version lists serviceimports, namespaced, short name svcim."""
    groups = {g["name"]: g for g in (await http.get("/apis")).json()["groups"]}
    assert groups["multicluster.x-k8s.io"]["preferredVersion"] == {
        "groupVersion": "multicluster.x-k8s.io/v1alpha1",
        "version": "v1alpha1",
    }
    group = (await http.get("/apis/multicluster.x-k8s.io")).json()
    assert group["kind"] == "APIGroup"
    assert group["versions"] == [group["preferredVersion"]]
    listing = (await http.get(IMPORTS)).json()
    assert listing["groupVersion"] == "multicluster.x-k8s.io/v1alpha1"
    (res,) = listing["resources"]
    assert (res["name"], res["kind"], res["namespaced"]) == (
        "serviceimports",
        "ServiceImport",
        True,
    )
    assert res["shortNames"] == ["svcim"]
    assert {"list", "watch"} <= set(res["verbs"])


async def test_imports_are_listed_and_got(mcs: ApiServer, client_for: Any) -> None:
    """Lists across and within namespaces, and GET by name, as for a CRD."""
    http = client_for(mcs.url)
    every = (await http.get(f"{IMPORTS}/serviceimports")).json()
    assert every["kind"] == "ServiceImportList"
    assert every["apiVersion"] == "multicluster.x-k8s.io/v1alpha1"
    assert names(every) == ["cart", "db"]
    assert names((await http.get(f"{IMPORTS}/namespaces/shop/serviceimports")).json()) == [
        "cart",
        "db",
    ]
    assert names((await http.get(f"{IMPORTS}/namespaces/other/serviceimports")).json()) == []
    one = (await http.get(f"{IMPORTS}/namespaces/shop/serviceimports/db")).json()
    assert one["spec"] == {"type": "Headless", "ports": [{"name": "sql", "port": 5432,
                                                          "protocol": "TCP"}]}  # fmt: skip
    assert one["metadata"]["resourceVersion"]
    missing = await http.get(f"{IMPORTS}/namespaces/shop/serviceimports/nope")
    assert missing.status == 404


async def test_mcs_slices_are_served_as_written(mcs: ApiServer) -> None:
    """The controller derives cart's own slice and leaves the imported one as written, also
    when the Service or its pods change."""
    mine = mcs.list("endpointslices", "shop", labelSelector="kubernetes.io/service-name=cart")
    assert [ep["addresses"] for s in mine["items"] for ep in s["endpoints"]] == [["10.244.0.50"]]
    imported = mcs.list("endpointslices", "shop", labelSelector=MCS_NAME)["items"]
    assert names({"items": imported}) == ["cart-import-west"]
    before = imported[0]
    mcs.apply({"kind": "Pod", "metadata": {"name": "cart-1", "namespace": "shop",
                                           "labels": {"app": "cart"}},
               "status": {"podIP": "10.244.0.51"}})  # fmt: skip
    mcs.patch("services", "shop", "cart", {"spec": {"ports": [{"name": "http", "port": 81}]}})
    after = mcs.get("endpointslices", "shop", "cart-import-west")
    assert after == before
    assert after is not None
    assert after["metadata"]["labels"]["multicluster.kubernetes.io/source-cluster"] == "west"
    assert "endpointslice.kubernetes.io/managed-by" not in after["metadata"]["labels"]


async def test_import_watch_sees_adds_and_deletes(mcs: ApiServer, client_for: Any) -> None:
    """A watch of serviceimports (all namespaces) reports writes; a namespace takes its imports."""
    http = client_for(mcs.url)
    listed = (await http.get(f"{IMPORTS}/serviceimports")).json()
    rv = listed["metadata"]["resourceVersion"]
    stream = await http.watch(f"{IMPORTS}/serviceimports?watch=true&resourceVersion={rv}")
    assert stream.status == 200
    mcs.apply({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
               "metadata": {"name": "new", "namespace": "shop"},
               "spec": {"type": "ClusterSetIP", "ips": ["10.42.0.9"], "ports": []}})  # fmt: skip
    added = await stream.next()
    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "new")
    assert added["object"]["kind"] == "ServiceImport"
    mcs.delete("namespaces", "", "shop")
    gone = {(await stream.next())["object"]["metadata"]["name"] for _ in range(3)}
    assert gone == {"cart", "db", "new"}
    assert mcs.list("serviceimports")["items"] == []
    stream.close()


async def test_reloaded_manifests_drop_an_import(tmp_path: Path) -> None:
    """Editing the manifest file removes an import it no longer lists."""
    path = tmp_path / "mcs.yaml"
    path.write_text(MANIFEST)
    server = ApiServer([path], poll_interval=0)
    server.load()
    path.write_text(
        MANIFEST.replace(
            "kind: ServiceImport\nmetadata: {name: db", "kind: Ignored\nmetadata: {name: db"
        )
    )
    server.reload()
    assert names(server.list("serviceimports")) == ["cart"]
