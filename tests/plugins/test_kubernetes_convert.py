"""kubernetes: API JSON to the compact objects DNS answers from."""

from __future__ import annotations

from typing import Any

import pytest

from kdns.plugins.kubernetes import convert
from kdns.plugins.kubernetes.objects import (
    Endpoint,
    EndpointSlice,
    Namespace,
    Pod,
    Port,
    Service,
)


def svc(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "prod", **meta}, "spec": spec}


SERVICES = [
    pytest.param(
        svc({"clusterIP": "10.0.0.1", "ports": [{"name": "http", "port": 80}]}),
        Service("prod", "web", "ClusterIP", ("10.0.0.1",), ports=(Port("http", "TCP", 80),)),
        id="clusterip-single-ip-protocol-defaults-to-tcp",
    ),
    pytest.param(
        svc(
            {
                "type": "LoadBalancer",
                "clusterIP": "10.0.0.1",
                "clusterIPs": ["10.0.0.1", "fd00:0:0::0:1"],
                "ports": [{"port": 53, "protocol": "udp"}, {"name": "tcp", "port": 53}],
            }
        ),
        Service(
            "prod",
            "web",
            "ClusterIP",
            ("10.0.0.1", "fd00::1"),
            ports=(Port("", "UDP", 53), Port("tcp", "TCP", 53)),
        ),
        id="dual-stack-clusterips-canonical-and-in-order",
    ),
    pytest.param(
        svc({"clusterIP": "None", "clusterIPs": ["None"]}),
        Service("prod", "web", "Headless"),
        id="headless",
    ),
    pytest.param(
        svc({"clusterIP": "None"}),
        Service("prod", "web", "Headless"),
        id="headless-without-clusterips-falls-back-to-clusterip",
    ),
    pytest.param(
        svc({"type": "ExternalName", "externalName": "db.example.com"}),
        Service("prod", "web", "ExternalName", external_name="db.example.com"),
        id="externalname",
    ),
    pytest.param(
        svc({"clusterIP": "10.0.0.1"}, labels={"b": "2", "a": "1"}),
        Service("prod", "web", "ClusterIP", ("10.0.0.1",), labels=(("a", "1"), ("b", "2"))),
        id="labels-sorted",
    ),
    pytest.param(
        svc({"clusterIP": "not-an-ip"}),
        Service("prod", "web", "ClusterIP"),
        id="garbage-ip-dropped",
    ),
]


@pytest.mark.parametrize(("obj", "want"), SERVICES)
def test_service(obj: dict[str, Any], want: Service) -> None:
    assert convert.service(obj) == want


def eps(endpoints: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-abc",
            "namespace": "prod",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        **extra,
    }


SLICES = [
    pytest.param(
        eps(
            [
                {
                    "addresses": ["10.1.0.5"],
                    "conditions": {"ready": True},
                    "hostname": "web-0",
                    "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "prod"},
                    "nodeName": "node-a",
                    "zone": "z1",
                }
            ],
            ports=[{"name": "http", "protocol": "TCP", "port": 8080}],
        ),
        EndpointSlice(
            "prod",
            "web-abc",
            "web",
            "IPv4",
            (Endpoint(("10.1.0.5",), True, "web-0", "web-0", "node-a", "z1"),),
            (Port("http", "TCP", 8080),),
        ),
        id="full-endpoint",
    ),
    pytest.param(
        eps([{"addresses": ["10.1.0.6"]}, {"addresses": ["10.1.0.7"], "conditions": {}}]),
        EndpointSlice(
            "prod",
            "web-abc",
            "web",
            "IPv4",
            (Endpoint(("10.1.0.6",)), Endpoint(("10.1.0.7",))),
        ),
        id="ready-unset-counts-as-ready",
    ),
    pytest.param(
        eps([{"addresses": ["10.1.0.6"], "conditions": {"ready": False, "serving": True}}]),
        EndpointSlice("prod", "web-abc", "web", "IPv4", (Endpoint(("10.1.0.6",), ready=False),)),
        id="not-ready-kept-with-flag",
    ),
    pytest.param(
        eps(
            [{"addresses": ["FD00:10:244:0::81"]}],
            addressType="IPv6",
            ports=[{"port": None}, {"name": "dns", "protocol": "UDP", "port": 53}],
        ),
        EndpointSlice(
            "prod",
            "web-abc",
            "web",
            "IPv6",
            (Endpoint(("fd00:10:244::81",)),),
            (Port("dns", "UDP", 53),),
        ),
        id="ipv6-canonical-and-portless-entry-dropped",
    ),
    pytest.param(
        eps([{"addresses": ["10.1.0.8"], "targetRef": {"kind": "Node", "name": "n1"}}]),
        EndpointSlice("prod", "web-abc", "web", "IPv4", (Endpoint(("10.1.0.8",)),)),
        id="target-ref-not-a-pod",
    ),
    pytest.param(
        {"metadata": {"name": "manual", "namespace": "prod"}, "addressType": "IPv4"},
        EndpointSlice("prod", "manual", "", "IPv4"),
        id="no-service-label-no-endpoints",
    ),
    pytest.param(
        eps([{"addresses": ["db.example.com"]}], addressType="FQDN"),
        EndpointSlice("prod", "web-abc", "web", "FQDN", (Endpoint(("db.example.com",)),)),
        id="fqdn",
    ),
]


@pytest.mark.parametrize(("obj", "want"), SLICES)
def test_endpoint_slice(obj: dict[str, Any], want: EndpointSlice) -> None:
    assert convert.endpoint_slice(obj) == want


def pod_json(status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "prod", **meta}, "status": status}


@pytest.mark.parametrize(
    ("obj", "want"),
    [
        pytest.param(pod_json({"podIP": "10.1.0.9"}), Pod("prod", "p", "10.1.0.9"), id="running"),
        pytest.param(
            pod_json({"podIP": "fd00::0:9", "podIPs": [{"ip": "fd00::9"}, {"ip": "10.1.0.9"}]}),
            Pod("prod", "p", "fd00::9"),
            id="primary-ip-canonical",
        ),
        pytest.param(pod_json({"phase": "Pending"}), None, id="no-ip-yet"),
        pytest.param(
            pod_json({"podIP": "10.1.0.9"}, deletionTimestamp="2024-01-01T00:00:00Z"),
            None,
            id="terminating",
        ),
    ],
)
def test_pod(obj: dict[str, Any], want: Pod | None) -> None:
    assert convert.pod(obj) == want


def test_pod_key_for_deleted_pods_even_without_ip() -> None:
    assert convert.pod_key(pod_json({})) == Pod("prod", "p", "")
    deleting = pod_json({"podIP": "10.1.0.9"}, deletionTimestamp="2024-01-01T00:00:00Z")
    assert convert.pod_key(deleting) == Pod("prod", "p", "10.1.0.9")


def test_namespace_and_metadata_helpers() -> None:
    obj = {"metadata": {"name": "prod", "resourceVersion": "42"}}
    assert convert.namespace(obj) == Namespace("prod")
    assert convert.resource_version(obj) == "42"
    assert convert.resource_version({}) == ""


def test_trigger_time() -> None:
    obj = eps([])
    assert convert.trigger_time(obj) == ""
    obj["metadata"]["annotations"] = {convert.TRIGGER_TIME_ANNOTATION: "2024-01-01T00:00:00Z"}
    assert convert.trigger_time(obj) == "2024-01-01T00:00:00Z"


def test_malformed_json_does_not_raise() -> None:
    """Odd shapes (nulls, wrong types) give empty fields rather than a crashed watch."""
    assert convert.service({"metadata": None, "spec": {"ports": None}}) == Service(
        "", "", "ClusterIP"
    )
    assert convert.endpoint_slice({"endpoints": [None, {"addresses": "x"}]}).endpoints == ()
