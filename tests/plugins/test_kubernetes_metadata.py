"""kubernetes metadata: the `kubernetes/...` values CoreDNS's Metadata publishes for a query
name and, with `pods verified`, for the client Pod (its source IP), read by *metadata*."""

from __future__ import annotations

import pytest

from kdns.plugins.base import MetadataProvider
from kdns.plugins.kubernetes.metadata import INVALID
from kdns.plugins.metadata import Metadata
from kdns.plugins.testing import build, make_request

from .k8s_kit import handler

POD_IP = ("10.244.1.10", 40000)  # Pod prod/web-1 in the test cluster
STRANGER = ("10.9.9.9", 40000)


def name_only(**values: str) -> dict[str, str]:
    """The values of a readable name: every part, "" where the name has none."""
    base = dict.fromkeys(("port-name", "protocol", "endpoint", "service", "namespace", "kind"), "")
    base.update(values)
    return {f"kubernetes/{k.replace('_', '-')}": v for k, v in base.items()}


CASES = [
    ("svc1.testns.svc.cluster.local.", name_only(service="svc1", namespace="testns", kind="svc")),
    (
        "_HTTP._tcp.svc1.testns.svc.cluster.local.",  # underscores stripped, lower case
        name_only(port_name="http", protocol="tcp", service="svc1", namespace="testns", kind="svc"),
    ),
    (
        "ep-1.hdls1.testns.svc.cluster.local.",
        name_only(endpoint="ep-1", service="hdls1", namespace="testns", kind="svc"),
    ),
    (
        "10-240-0-1.podns.pod.cluster.local.",  # CoreDNS: the dashed IP is the "service"
        name_only(service="10-240-0-1", namespace="podns", kind="pod"),
    ),
    ("testns.svc.cluster.local.", name_only(namespace="testns", kind="svc")),
    ("cluster.local.", name_only()),  # the apex: every part empty
    ("foo.bar.notapod.cluster.local.", {"kubernetes/parse-error": INVALID}),
    ("a.b.c.svc1.testns.svc.cluster.local.", {"kubernetes/parse-error": INVALID}),
    ("1.0.0.10.in-addr.arpa.", {"kubernetes/parse-error": INVALID}),  # a reverse zone
    ("www.example.org.", {}),  # outside the plugin's zones
]


@pytest.mark.parametrize(("qname", "expected"), CASES)
def test_values_of_the_query_name(qname: str, expected: dict[str, str]) -> None:
    h = handler()
    assert isinstance(h, MetadataProvider)
    assert h.metadata(make_request(qname, remote=POD_IP)) == expected  # no `pods verified`


@pytest.mark.parametrize(
    ("qname", "remote", "expected"),
    [
        (
            "svc1.testns.svc.cluster.local.",
            POD_IP,
            {
                **name_only(service="svc1", namespace="testns", kind="svc"),
                "kubernetes/client-namespace": "prod",
                "kubernetes/client-pod-name": "web-1",
            },
        ),
        (  # the client is known whatever the name asked
            "www.example.org.",
            POD_IP,
            {"kubernetes/client-namespace": "prod", "kubernetes/client-pod-name": "web-1"},
        ),
        (
            "www.example.org.",
            ("fd00:10:244:4::7", 5353),
            {"kubernetes/client-namespace": "prod", "kubernetes/client-pod-name": "web-v6"},
        ),
        ("www.example.org.", STRANGER, {}),
    ],
)
def test_client_pod_with_pods_verified(
    qname: str, remote: tuple[str, int], expected: dict[str, str]
) -> None:
    h = handler("pods verified")
    assert h.metadata(make_request(qname, remote=remote)) == expected


def test_multicluster_zone_adds_the_cluster() -> None:
    h = handler("multicluster clusterset.local", zones="cluster.local clusterset.local")
    got = h.metadata(make_request("ep.c1.web.prod.svc.clusterset.local.", remote=STRANGER))
    assert got == {
        **name_only(endpoint="ep", service="web", namespace="prod", kind="svc"),
        "kubernetes/cluster": "c1",
    }


def test_metadata_plugin_collects_the_values() -> None:
    """The *metadata* plugin in front finds the handler and fills `req.meta`."""
    front = build("metadata", handler("pods verified"), keys=".")
    assert isinstance(front, Metadata)
    req = make_request("svc1.testns.svc.cluster.local.", remote=POD_IP)
    front.collect_metadata(req)
    assert req.meta["kubernetes/namespace"] == "testns"
    assert req.meta["kubernetes/client-pod-name"] == "web-1"
