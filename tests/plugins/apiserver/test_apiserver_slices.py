"""EndpointSlices derived by the EndpointSlice controller's rules, and the server's defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer

EXAMPLE = Path(__file__).parents[3] / "examples" / "cluster.yaml"
Obj = dict[str, Any]


@pytest.fixture
def cluster() -> ApiServer:
    """The example cluster, loaded but not listening."""
    server = ApiServer([EXAMPLE])
    server.load()
    return server


def slices_of(server: ApiServer, service: str, namespace: str = "default") -> list[Obj]:
    selector = f"kubernetes.io/service-name={service}"
    items: list[Obj] = server.list("endpointslices", namespace, labelSelector=selector)["items"]
    return sorted(items, key=lambda s: s["addressType"])


def pod(name: str, ip: str | None, labels: dict[str, str], **extra: Any) -> Obj:
    obj: Obj = {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {},
        "status": {},
    }
    if ip:
        obj["status"]["podIP"] = ip
    for path, value in extra.items():
        section, _, key = path.partition("__")
        obj[section][key] = value
    return obj


def service(name: str, selector: dict[str, str], **spec: Any) -> Obj:
    ports = spec.pop("ports", [{"name": "http", "port": 80}])
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": selector, "ports": ports, **spec},
    }


def test_kube_dns_slice(cluster: ApiServer) -> None:
    """kube-dns gets one IPv4 slice with both pods, both ports, the controller's labels."""
    (slice_,) = slices_of(cluster, "kube-dns", "kube-system")
    assert slice_["addressType"] == "IPv4"
    assert sorted(a for ep in slice_["endpoints"] for a in ep["addresses"]) == [
        "10.2.6.10",
        "10.2.7.11",
    ]
    assert all(
        ep["conditions"] == {"ready": True, "serving": True, "terminating": False}
        for ep in slice_["endpoints"]
    )
    assert slice_["ports"] == [
        {"name": "dns", "protocol": "UDP", "port": 53},
        {"name": "dns-tcp", "protocol": "TCP", "port": 53},
    ]
    labels = slice_["metadata"]["labels"]
    assert labels["kubernetes.io/service-name"] == "kube-dns"
    assert labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert labels["k8s-app"] == "kube-dns"  # copied from the Service
    svc = cluster.get("svc", "kube-system", "kube-dns")
    assert svc is not None
    owner = slice_["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "Service",
        "kube-dns",
        svc["metadata"]["uid"],
    )
    assert slice_["metadata"]["name"].startswith("kube-dns-")


def test_headless_statefulset_endpoints_have_hostnames(cluster: ApiServer) -> None:
    """web-0/web-1 carry hostname (subdomain = service), targetRef and nodeName."""
    (slice_,) = slices_of(cluster, "web")
    eps = {ep["hostname"]: ep for ep in slice_["endpoints"]}
    assert sorted(eps) == ["web-0", "web-1"]
    assert eps["web-0"]["addresses"] == ["10.2.6.20"]
    assert eps["web-0"]["targetRef"]["kind"] == "Pod"
    assert eps["web-0"]["targetRef"]["name"] == "web-0"
    assert eps["web-1"]["nodeName"] == "10.222.243.78"
    assert slice_["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_named_target_port_resolves_to_the_container_port(cluster: ApiServer) -> None:
    """targetPort: http-api becomes the pod's containerPort 8080 in the slice."""
    (slice_,) = slices_of(cluster, "api")
    assert slice_["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]


def test_dual_stack_service_has_a_slice_per_family(cluster: ApiServer) -> None:
    """A dual-stack service gets an IPv4 and an IPv6 slice with the pod's address of each."""
    v4, v6 = slices_of(cluster, "dual")
    assert (v4["addressType"], v6["addressType"]) == ("IPv4", "IPv6")
    assert v4["endpoints"][0]["addresses"] == ["10.2.7.40"]
    assert v6["endpoints"][0]["addresses"] == ["fd00:10:2::7:40"]
    svc = cluster.get("svc", "default", "dual")
    assert svc is not None
    assert svc["spec"]["clusterIPs"] == ["10.3.0.40", "fd00:10:3::40"]


def test_selectorless_and_external_name_services_get_no_derived_slice(cluster: ApiServer) -> None:
    """`kubernetes` keeps its hand-written slice as written; ExternalName has none."""
    (slice_,) = slices_of(cluster, "kubernetes")
    assert slice_["metadata"]["name"] == "kubernetes"
    assert slice_["endpoints"][0]["addresses"] == ["10.222.243.77"]
    assert slice_["ports"][0]["port"] == 6443
    assert slices_of(cluster, "search") == []


@pytest.mark.parametrize(
    ("extra", "publish", "conditions"),
    [
        ({}, False, {"ready": True, "serving": True, "terminating": False}),
        (
            {"status__conditions": [{"type": "Ready", "status": "False"}]},
            False,
            {"ready": False, "serving": False, "terminating": False},
        ),
        (
            {"status__conditions": [{"type": "Ready", "status": "False"}]},
            True,
            {"ready": True, "serving": True, "terminating": False},
        ),
        (
            {"metadata__deletionTimestamp": "2024-01-01T00:00:00Z"},
            False,
            {"ready": False, "serving": True, "terminating": True},
        ),
        (
            {"metadata__deletionTimestamp": "2024-01-01T00:00:00Z"},
            True,
            {"ready": True, "serving": True, "terminating": True},
        ),
    ],
    ids=["ready", "not-ready", "not-ready-published", "terminating", "terminating-published"],
)
def test_endpoint_conditions(
    cluster: ApiServer, extra: Obj, publish: bool, conditions: Obj
) -> None:
    """ready = publishNotReadyAddresses || (pod ready && not terminating)."""
    cluster.apply(service("s", {"app": "s"}, publishNotReadyAddresses=publish))
    cluster.apply(pod("s-0", "10.2.1.1", {"app": "s"}, **extra))
    (slice_,) = slices_of(cluster, "s")
    assert slice_["endpoints"][0]["conditions"] == conditions


@pytest.mark.parametrize(
    "the_pod",
    [
        pod("p", None, {"app": "s"}),
        pod("p", "10.2.1.1", {"app": "s"}, status__phase="Succeeded"),
        pod("p", "10.2.1.1", {"app": "s"}, status__phase="Failed"),
        pod("p", "10.2.1.1", {"app": "other"}),
    ],
    ids=["no-ip", "succeeded", "failed", "not-selected"],
)
def test_pods_left_out_make_a_placeholder_slice(cluster: ApiServer, the_pod: Obj) -> None:
    """With no usable pod the controller keeps one slice with null endpoints and ports."""
    cluster.apply(service("s", {"app": "s"}))
    cluster.apply(the_pod)
    (slice_,) = slices_of(cluster, "s")
    assert slice_["endpoints"] is None
    assert slice_["ports"] is None


def test_hostname_only_when_subdomain_is_the_service(cluster: ApiServer) -> None:
    """spec.hostname is published only through the Service named by spec.subdomain."""
    cluster.apply(service("s", {"app": "s"}, clusterIP="None"))
    cluster.apply(pod("a", "10.2.1.1", {"app": "s"}, spec__hostname="a", spec__subdomain="s"))
    cluster.apply(pod("b", "10.2.1.2", {"app": "s"}, spec__hostname="b", spec__subdomain="t"))
    (slice_,) = slices_of(cluster, "s")
    hostnames = {ep["targetRef"]["name"]: ep.get("hostname") for ep in slice_["endpoints"]}
    assert hostnames == {"a": "a", "b": None}


def test_unresolvable_named_port_is_left_out(cluster: ApiServer) -> None:
    """A pod without the named container port gets a slice without that port."""
    cluster.apply(
        service(
            "s",
            {"app": "s"},
            ports=[{"name": "web", "port": 80, "targetPort": "web"}, {"name": "raw", "port": 81}],
        )
    )
    cluster.apply(pod("a", "10.2.1.1", {"app": "s"}))
    (slice_,) = slices_of(cluster, "s")
    assert slice_["ports"] == [{"name": "raw", "protocol": "TCP", "port": 81}]


def test_pods_resolving_ports_differently_get_separate_slices(cluster: ApiServer) -> None:
    """Endpoints are grouped by their resolved ports, as the controller does."""
    cluster.apply(service("s", {"app": "s"}, ports=[{"port": 80, "targetPort": "web"}]))
    for name, number in (("a", 8080), ("b", 9090)):
        p = pod(name, f"10.2.1.{number % 100}", {"app": "s"})
        p["spec"]["containers"] = [
            {"name": "c", "ports": [{"name": "web", "containerPort": number}]}
        ]
        cluster.apply(p)
    ports = sorted(s["ports"][0]["port"] for s in slices_of(cluster, "s"))
    assert ports == [8080, 9090]


def test_more_than_100_endpoints_split(cluster: ApiServer) -> None:
    """A slice holds at most 100 endpoints."""
    cluster.apply(service("big", {"app": "big"}))
    for i in range(150):
        cluster.apply(pod(f"big-{i}", f"10.2.{i // 200}.{i % 200 + 1}", {"app": "big"}))
    sizes = sorted(len(s["endpoints"]) for s in slices_of(cluster, "big"))
    assert sizes == [50, 100]


def test_changes_rederive_slices(cluster: ApiServer) -> None:
    """Pods joining, turning unready, and the service going away update its slices."""
    before = slices_of(cluster, "web")[0]
    cluster.apply(
        pod("web-2", "10.2.8.22", {"app": "web"}, spec__hostname="web-2", spec__subdomain="web")
    )
    after = slices_of(cluster, "web")[0]
    assert after["metadata"]["name"] == before["metadata"]["name"]
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert len(after["endpoints"]) == 3
    cluster.patch(
        "pods",
        "default",
        "web-0",
        {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
    )
    ready = {
        ep["hostname"]: ep["conditions"]["ready"]
        for ep in slices_of(cluster, "web")[0]["endpoints"]
    }
    assert ready == {"web-0": False, "web-1": True, "web-2": True}
    cluster.delete("pods", "default", "web-1")
    assert len(slices_of(cluster, "web")[0]["endpoints"]) == 2
    cluster.delete("services", "default", "web")
    assert slices_of(cluster, "web") == []


def test_deleting_a_derived_slice_brings_it_back(cluster: ApiServer) -> None:
    """The controller recreates a managed slice deleted by hand."""
    name = slices_of(cluster, "web")[0]["metadata"]["name"]
    cluster.delete("endpointslices", "default", name)
    assert slices_of(cluster, "web")[0]["metadata"]["name"] == name


def test_service_defaults(cluster: ApiServer) -> None:
    """clusterIPs, ipFamilies and policy are filled; a missing ClusterIP is allocated."""
    kube_dns = cluster.get("svc", "kube-system", "kube-dns")
    assert kube_dns is not None
    spec = kube_dns["spec"]
    assert spec["clusterIPs"] == ["10.3.0.10"]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["type"] == "ClusterIP"
    assert spec["ports"][0]["targetPort"] == 53
    web = cluster.get("svc", "default", "web")
    assert web is not None
    assert web["spec"]["clusterIPs"] == ["None"]
    assert web["spec"]["ipFamilies"] == ["IPv4"]
    a = cluster.apply(service("a", {}, ports=[{"port": 1}]))["spec"]
    b = cluster.apply(service("b", {}, ipFamilyPolicy="PreferDualStack"))["spec"]
    assert a["clusterIP"].startswith("10.3.")
    assert a["clusterIP"] != b["clusterIP"]
    assert b["ipFamilies"] == ["IPv4", "IPv6"]
    assert ":" in b["clusterIPs"][1]
    again = cluster.apply(service("a", {}, ports=[{"port": 2}]))["spec"]
    assert again["clusterIP"] == a["clusterIP"]  # kept on update
    ext = cluster.get("svc", "default", "search")
    assert ext is not None
    assert "clusterIP" not in ext["spec"]


def test_pod_defaults(cluster: ApiServer) -> None:
    """A pod with only status.podIP is Running and Ready, with podIPs filled."""
    coredns = cluster.get("pods", "kube-system", "coredns-5d78c9869d-8xkqp")
    assert coredns is not None
    status = coredns["status"]
    assert status["phase"] == "Running"
    assert status["podIPs"] == [{"ip": "10.2.6.10"}]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    pending = cluster.apply(pod("p", None, {}))
    assert pending["status"]["phase"] == "Pending"
    assert "conditions" not in pending["status"]
