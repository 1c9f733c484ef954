"""kubernetes `multicluster`: ServiceImports and MCS slices from API JSON to answers (§20).

Conversion, the index kept apart from the local Services (with its own SOA serial and change
scopes), the name grammar of a multicluster zone, the watch set-up, the zone transfer, and a
table of answers of the handler over an index holding both a local Service and an import of
the same name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN
from kdns.plugins.kubernetes import convert
from kdns.plugins.kubernetes.axfr import zone_transfer
from kdns.plugins.kubernetes.config import KubernetesConfig, watched_kinds
from kdns.plugins.kubernetes.controller import Controller, label_selector
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.names import RecordRequest, parse_request
from kdns.plugins.kubernetes.objects import (
    Endpoint,
    EndpointSlice,
    MultiClusterSlice,
    Namespace,
    Port,
    Service,
    ServiceImport,
)
from kdns.plugins.kubernetes.scopes import ALL, Scope, service_scope

from .k8s_kit import CLOCK, Expect, a, ask, check, config, handler, ok, srv
from .kube_support import FAST, RecordingSink, Stub

ZONES = "cluster.local clusterset.local in-addr.arpa ip6.arpa"
MC = "multicluster clusterset.local"
HTTP, DNS = Port("http", "TCP", 80), Port("dns", "UDP", 53)
Z = "testns.svc.clusterset.local."
L = "testns.svc.cluster.local."
#: The clusterset data arrives later than the local data: its serial differs.
MC_CLOCK = CLOCK + 100


def _mcs(
    name: str, service: str, cluster: str, *eps: Endpoint, family: str = "IPv4"
) -> MultiClusterSlice:
    ports = (Port("http", "TCP", 8080),)
    return MultiClusterSlice("testns", name, service, cluster, family, eps, ports)  # type: ignore[arg-type]


def _ep(ip: str, hostname: str = "", ready: bool = True) -> Endpoint:
    return Endpoint((ip,), ready=ready, hostname=hostname)


IMPORTS = [
    ServiceImport("testns", "svc1", "ClusterSetIP", ("10.42.0.1", "fd00:42::1"), (HTTP, DNS)),
    ServiceImport("testns", "only", "ClusterSetIP", ("10.42.0.2",), (HTTP,)),
    ServiceImport("testns", "hdls", "Headless", (), (Port("http", "TCP", 8080),)),
    ServiceImport("testns", "empty", "Headless", (), (HTTP,)),
    ServiceImport("ghost", "svc1", "ClusterSetIP", ("10.42.0.9",), (HTTP,)),
]
MCS_SLICES = [
    _mcs("hdls-a", "hdls", "cluster-a", _ep("10.1.0.1", "web-0"), _ep("10.1.0.2"),
         _ep("10.1.0.3", ready=False)),
    _mcs("hdls-b", "hdls", "cluster-b", _ep("10.2.0.1", "web-0")),
    _mcs("hdls-b6", "hdls", "cluster-b", _ep("fd00:2::1", "web-0"), family="IPv6"),
    _mcs("svc1-a", "svc1", "cluster-a", _ep("10.1.1.1", "api-0")),
]  # fmt: skip
LOCAL = [
    Service("testns", "svc1", "ClusterIP", ("10.96.1.1",), ports=(HTTP,)),
    Service("testns", "local", "ClusterIP", ("10.96.1.2",), ports=(HTTP,)),
]
LOCAL_SLICES = [
    EndpointSlice("testns", "svc1-x", "svc1", "IPv4", (_ep("10.244.1.1", "ep1"),), (HTTP,)),
]


class Clock:
    """A settable wall clock."""

    def __init__(self, now: float = CLOCK) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def filled(clock: Clock | None = None) -> Index:
    """An index with the local objects at CLOCK and the clusterset objects at MC_CLOCK."""
    clock = clock or Clock()
    index = Index(clock=clock)
    index.replace("Namespace", [Namespace("testns"), Namespace("kube-system")])
    index.replace("Service", list(LOCAL))
    index.replace("EndpointSlice", list(LOCAL_SLICES))
    clock.now = MC_CLOCK
    index.replace("ServiceImport", list(IMPORTS))
    index.replace("MultiClusterEndpointSlice", list(MCS_SLICES))
    index.mark_synced()
    return index


# -- conversion --------------------------------------------------------------------------------


def test_service_import_from_json() -> None:
    """spec.type, spec.ips (canonical, deduplicated, non-IPs dropped) and spec.ports are kept."""
    obj: dict[str, Any] = {
        "apiVersion": "multicluster.x-k8s.io/v1alpha1",
        "kind": "ServiceImport",
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {
            "type": "ClusterSetIP",
            "ips": ["10.42.0.1", "FD00:0042::1", "10.42.0.1", "nonsense"],
            "ports": [{"name": "http", "port": 80, "protocol": "tcp"}, {"port": 53}],
        },
    }
    assert convert.service_import(obj) == ServiceImport(
        "prod",
        "web",
        "ClusterSetIP",
        ("10.42.0.1", "fd00:42::1"),
        (Port("http", "TCP", 80), Port("", "TCP", 53)),
    )
    obj["spec"] = {"type": "Headless", "ports": []}
    assert convert.service_import(obj) == ServiceImport("prod", "web", "Headless")
    obj["spec"] = {}
    assert convert.service_import(obj).kind == "ClusterSetIP"  # no type: as CoreDNS, not headless


def test_multicluster_slice_from_json() -> None:
    """The MCS labels give the import and the cluster id; endpoints read as local ones do."""
    obj = {
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-a",
            "namespace": "prod",
            "labels": {
                "multicluster.kubernetes.io/service-name": "web",
                "multicluster.kubernetes.io/source-cluster": "cluster-a",
            },
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.1.0.1"], "hostname": "web-0"},
            {"addresses": ["10.1.0.2"], "conditions": {"ready": False}},
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }
    got = convert.multicluster_slice(obj)
    assert (got.service, got.cluster, got.address_type) == ("web", "cluster-a", "IPv4")
    assert got.endpoints == (_ep("10.1.0.1", "web-0"), _ep("10.1.0.2", ready=False))
    assert got.ports == (Port("http", "TCP", 8080),)
    # The same slice read by the local watch belongs to no local Service.
    assert convert.endpoint_slice(obj).service == ""


# -- index -------------------------------------------------------------------------------------


def test_imports_live_apart_from_services() -> None:
    """An import and a Service of one name, MCS and local slices: each side sees its own."""
    index = filled()
    assert index.service("testns", "svc1") == LOCAL[0]
    assert index.imports.get("testns", "svc1") == IMPORTS[0]
    assert index.imports.get("testns", "local") is None
    assert index.service("testns", "only") is None
    assert [s.name for s in index.imports.slices_of("testns", "hdls")] == [
        "hdls-a",
        "hdls-b",
        "hdls-b6",
    ]
    assert [s.name for s in index.slices_of("testns", "svc1")] == ["svc1-x"]
    assert index.slices_with_ip("10.1.1.1") == []  # MCS endpoints are not local endpoints


def test_multicluster_serial_is_its_own() -> None:
    """Imports and MCS slices move the multicluster serial only; local changes the other."""
    clock = Clock()
    index = filled(clock)
    assert (index.serial_for(False), index.serial_for(True)) == (CLOCK, MC_CLOCK)
    clock.now = MC_CLOCK + 50
    index.apply("ServiceImport", "DELETED", IMPORTS[1])
    assert (index.serial, index.serial_for(True)) == (CLOCK, MC_CLOCK + 50)
    clock.now = MC_CLOCK + 60
    index.apply("Service", "DELETED", LOCAL[1])
    assert (index.serial, index.serial_for(True)) == (MC_CLOCK + 60, MC_CLOCK + 50)
    clock.now = MC_CLOCK + 70
    index.apply("MultiClusterEndpointSlice", "MODIFIED", MCS_SLICES[0])  # the same: no move
    index.replace("ServiceImport", [i for i in IMPORTS if i.name != "only"])  # the same
    assert index.serial_for(True) == MC_CLOCK + 50


def test_changes_name_the_scope_of_the_import() -> None:
    """Listeners hear service_scope(ns, import) for import and MCS slice events, ALL on lists."""
    index = filled()
    heard: list[Scope] = []
    index.listeners.append(heard.append)
    index.apply("ServiceImport", "ADDED", ServiceImport("testns", "new", "ClusterSetIP"))
    moved = _mcs("hdls-b", "other", "cluster-b", _ep("10.2.0.1", "web-0"))
    index.apply("MultiClusterEndpointSlice", "MODIFIED", moved)  # moves from hdls to other
    index.apply("ServiceImport", "MODIFIED", ServiceImport("testns", "new", "ClusterSetIP"))
    index.replace("ServiceImport", [])
    index.replace("ServiceImport", [])  # nothing changed: nothing heard
    assert heard == [
        service_scope("testns", "new"),
        service_scope("testns", "hdls"),
        service_scope("testns", "other"),
        ALL,
    ]
    assert [s.name for s in index.imports.slices_of("testns", "other")] == ["hdls-b"]


def test_known_hands_back_held_imports_and_slices() -> None:
    """A re-list keeps one copy of unchanged imports and MCS slices."""
    index = filled()
    copy = dataclasses.replace(IMPORTS[0])
    assert copy is not IMPORTS[0]
    assert index.known(copy) is IMPORTS[0]
    changed = _mcs("hdls-a", "hdls", "cluster-z")
    assert index.known(changed) is changed


# -- names and watches -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "multicluster", "want"),
    [
        ("web-0.cl-a.hdls.testns.svc", True, RecordRequest("svc", "testns", "hdls", "web-0",
                                                           cluster="cl-a")),
        ("web-0.cl-a.hdls.testns.svc", False, RecordRequest("svc", "testns", "hdls",
                                                            port="web-0", protocol="cl-a")),
        ("_http._tcp.hdls.testns.svc", True, RecordRequest("svc", "testns", "hdls", port="http",
                                                           protocol="tcp")),
        ("_http.tcp.hdls.testns.svc", True, RecordRequest("svc", "testns", "hdls", port="http",
                                                          protocol="tcp")),
        ("http._tcp.hdls.testns.svc", True, RecordRequest("svc", "testns", "hdls", port="http",
                                                          protocol="tcp")),
        ("web-0.hdls.testns.svc", True, RecordRequest("svc", "testns", "hdls", "web-0")),
        ("a.b.c.hdls.testns.svc", True, None),
    ],
)  # fmt: skip
def test_names_in_a_multicluster_zone(
    base: str, multicluster: bool, want: RecordRequest | None
) -> None:
    """Two labels without an underscore are endpoint.cluster in a multicluster zone only [C]."""
    assert parse_request(base, multicluster) == want


def test_watches_for_multicluster() -> None:
    """ServiceImports and MCS slices are watched only with `multicluster`, slices by label."""
    plain = config("", ZONES)
    assert "ServiceImport" not in watched_kinds(plain)
    mc = config(f"{MC}\nnoendpoints\nlabels app=web", ZONES)
    assert watched_kinds(mc) == (
        "Namespace",
        "Service",
        "ServiceImport",
        "MultiClusterEndpointSlice",
    )
    assert label_selector(mc, "ServiceImport") is None
    assert label_selector(mc, "Service") == "app=web"
    assert (
        label_selector(mc, "MultiClusterEndpointSlice")
        == "app=web,multicluster.kubernetes.io/service-name"
    )
    assert (
        label_selector(config(MC, ZONES), "MultiClusterEndpointSlice")
        == "multicluster.kubernetes.io/service-name"
    )


# -- zone transfer -----------------------------------------------------------------------------


def _text(records: list[dnslib.RR]) -> list[str]:
    return [f"{rr.rname} {dnslib.QTYPE.get(rr.rtype)} {rr.rdata}" for rr in records]


def test_transfer_of_a_multicluster_zone_lists_imports() -> None:
    """AXFR of the multicluster zone: its serial, the imports (never the local Services)."""
    cfg = config(MC, ZONES)
    out = _text(zone_transfer(filled(), cfg, "clusterset.local.") or [])
    body = out[1:-1]
    assert out[0].endswith(f"{MC_CLOCK} 7200 1800 86400 5")
    assert out[-1] == out[0]
    assert not any("10.96." in line or f"local.{Z}" in line for line in body)
    assert f"svc1.{Z} A 10.42.0.1" in body
    assert f"svc1.{Z} AAAA fd00:42::1" in body
    assert f"_dns._udp.svc1.{Z} SRV 0 100 53 svc1.{Z}" in body
    assert f"web-0.cluster-a.hdls.{Z} A 10.1.0.1" in body
    assert f"_http._tcp.hdls.{Z} SRV 0 50 8080 10-1-0-2.cluster-a.hdls.{Z}" in body
    assert f"web-0.cluster-b.hdls.{Z} AAAA fd00:2::1" in body
    assert not any("ghost" in line for line in body)  # its namespace does not exist here
    local = _text(zone_transfer(filled(), cfg, "cluster.local.") or [])
    assert f"svc1.{L} A 10.96.1.1" in local
    assert not any("10.42." in x for x in local)
    up_to_date = zone_transfer(filled(), cfg, "clusterset.local.", MC_CLOCK) or []
    assert _text(up_to_date) == out[:1]  # IXFR at the multicluster serial: the SOA alone


# -- answers -----------------------------------------------------------------------------------


def mc_soa(zone: str = "clusterset.local.", serial: int = MC_CLOCK) -> tuple[str, str, int, str]:
    """The SOA of negative answers in `zone` with `serial`."""
    return (zone, "SOA", 5, f"ns.dns.{zone} hostmaster.{zone} {serial} 7200 1800 86400 5")


def mc_nx() -> Expect:
    """NXDOMAIN in the multicluster zone."""
    return Expect(NXDOMAIN, authority=[mc_soa()])


def mc_nodata() -> Expect:
    """NODATA in the multicluster zone."""
    return Expect(NOERROR, authority=[mc_soa()])


SVC1, HDLS = "svc1." + Z, "hdls." + Z
W0A, W0B, DASH = "web-0.cluster-a." + HDLS, "web-0.cluster-b." + HDLS, "10-1-0-2.cluster-a." + HDLS
SVC1_EXTRA = [a(SVC1, "10.42.0.1"), a(SVC1, "fd00:42::1")]
HDLS_EXTRA = [a(W0A, "10.1.0.1"), a(DASH, "10.1.0.2"), a(W0B, "10.2.0.1"), a(W0B, "fd00:2::1")]

CASES: list[tuple[str, str, Expect]] = [
    (SVC1, "A", ok(a(SVC1, "10.42.0.1"))),  # ClusterSetIP: spec.ips [S][T]
    (SVC1, "AAAA", ok(a(SVC1, "fd00:42::1"))),  # dual-stack [S]
    ("svc1." + L, "A", ok(a("svc1." + L, "10.96.1.1"))),  # the local Service, untouched
    ("SVC1.TestNS.svc.ClusterSet.Local.", "A",
     ok(a("SVC1.TestNS.svc.ClusterSet.Local.", "10.42.0.1"))),  # spelling kept
    ("_http._tcp." + SVC1, "SRV",
     ok(srv("_http._tcp." + SVC1, 50, 80, SVC1), extra=SVC1_EXTRA)),  # target the service [S]
    ("_dns._udp." + SVC1, "SRV", ok(srv("_dns._udp." + SVC1, 50, 53, SVC1), extra=SVC1_EXTRA)),
    (SVC1, "SRV", ok(srv(SVC1, 25, 80, SVC1), srv(SVC1, 25, 53, SVC1), extra=SVC1_EXTRA)),
    ("_http.tcp." + SVC1, "SRV",
     ok(srv("_http.tcp." + SVC1, 50, 80, SVC1), extra=SVC1_EXTRA)),  # one underscore: SRV [C]
    ("http.tcp." + SVC1, "SRV", mc_nx()),  # no underscore: endpoint.cluster [C]
    ("_nope._tcp." + SVC1, "SRV", mc_nx()),
    ("api-0.cluster-a." + SVC1, "A",
     ok(a("api-0.cluster-a." + SVC1, "10.1.1.1"))),  # endpoint names under ClusterSetIP [C]
    ("cluster-a." + SVC1, "A", mc_nx()),  # no per-cluster name for ClusterSetIP [S]
    (HDLS, "A", ok(a(HDLS, "10.1.0.1"), a(HDLS, "10.1.0.2"), a(HDLS, "10.2.0.1"))),  # [S][T]
    (HDLS, "AAAA", ok(a(HDLS, "fd00:2::1"))),  # [S]
    (W0A, "A", ok(a(W0A, "10.1.0.1"))),  # hostname.clusterid [S][T]
    (W0B, "A", ok(a(W0B, "10.2.0.1"))),  # the same hostname in another cluster [S]
    (W0B, "AAAA", ok(a(W0B, "fd00:2::1"))),
    (DASH, "A", ok(a(DASH, "10.1.0.2"))),  # dashed address without hostname [C]
    ("WEB-0.Cluster-A." + HDLS, "A", ok(a("WEB-0.Cluster-A." + HDLS, "10.1.0.1"))),
    ("web-0." + HDLS, "A", mc_nx()),  # endpoint without cluster id [T]
    ("web-0.cluster-c." + HDLS, "A", mc_nx()),  # unknown cluster
    ("10-1-0-3.cluster-a." + HDLS, "A", mc_nx()),  # not ready
    ("_http._tcp." + HDLS, "SRV", ok(  # headless SRV targets carry the cluster id [S][T]
        srv("_http._tcp." + HDLS, 25, 8080, W0A), srv("_http._tcp." + HDLS, 25, 8080, DASH),
        srv("_http._tcp." + HDLS, 25, 8080, W0B), extra=HDLS_EXTRA)),
    (W0B, "SRV", ok(srv(W0B, 50, 8080, W0B), extra=[a(W0B, "10.2.0.1"), a(W0B, "fd00:2::1")])),
    ("empty." + Z, "A", mc_nx()),  # headless without ready endpoints [S]
    ("only." + Z, "A", ok(a("only." + Z, "10.42.0.2"))),
    ("only." + L, "A", Expect(NXDOMAIN, authority=[mc_soa("cluster.local.", CLOCK)])),
    ("local." + Z, "A", mc_nx()),  # local Services are not in the clusterset zone
    ("svc1.ghost.svc.clusterset.local.", "A", mc_nx()),  # the namespace must exist here [T]
    (Z, "A", mc_nodata()),  # the namespace level exists
    ("nosuch." + Z, "A", mc_nx()),  # the multicluster serial in the SOA
    (SVC1, "TXT", mc_nodata()),
    ("dns-version.clusterset.local.", "TXT",
     ok(("dns-version.clusterset.local.", "TXT", 28800, '"1.1.0"'))),  # as CoreDNS
    ("clusterset.local.", "SOA", ok(mc_soa())),  # the apex SOA has the multicluster serial
    ("1.0.42.10.in-addr.arpa.", "PTR",
     Expect(NXDOMAIN, authority=[mc_soa("in-addr.arpa.", CLOCK)])),  # no PTR for MCS IPs [C]
    ("1.1.96.10.in-addr.arpa.", "PTR",
     ok(("1.1.96.10.in-addr.arpa.", "PTR", 5, "svc1." + L))),  # local PTRs unchanged
]  # fmt: skip


@pytest.mark.parametrize(("name", "qtype", "want"), CASES, ids=[f"{n} {t}" for n, t, _ in CASES])
async def test_answers_in_a_multicluster_zone(name: str, qtype: str, want: Expect) -> None:
    h = handler(MC, zones=ZONES, index=filled())
    check(await ask(h, name, qtype), want)


async def test_without_multicluster_the_zone_serves_services() -> None:
    """Without the option clusterset.local is an ordinary cluster zone (no imports)."""
    h = handler("", zones=ZONES, index=filled())
    check(await ask(h, SVC1, "A"), ok(a(SVC1, "10.96.1.1")))
    check(
        await ask(h, "only." + Z, "A"),
        Expect(NXDOMAIN, authority=[mc_soa("clusterset.local.", CLOCK)]),
    )


async def test_a_missing_serviceimport_resource_does_not_hold_the_sync() -> None:
    """An API without the ServiceImport CRD answers 404: no imports, and the sync goes on."""
    stub = Stub()
    stub.put("Namespace", {"metadata": {"name": "prod"}})
    stub.start()
    try:
        zones = ("cluster.local.", "clusterset.local.")
        cfg = KubernetesConfig(zones=zones, endpoint=stub.url, multicluster=zones[1:])
        sink = RecordingSink()
        controller = Controller(cfg, sink, backoff=FAST, resync=0)
        await controller.start()
        try:
            assert await controller.wait_synced(5)
        finally:
            await controller.stop()
    finally:
        stub.stop()
    assert ("replace", "ServiceImport", []) in sink.calls
    assert ("replace", "MultiClusterEndpointSlice", []) in sink.calls
