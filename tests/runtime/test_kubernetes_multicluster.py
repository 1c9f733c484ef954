"""kubernetes `multicluster` over real sockets: the project's API server serves
tests/runtime/cluster/multicluster.yaml (ServiceImports, MCS EndpointSlices from two clusters, a
local Service of the same name as an import), kdns watches it, and dnspython asks.

Cases name their source as test_kubernetes_serve.py does: [S] the MCS DNS specification
(KEP-1645 specification.md), [T] a CoreDNS test, [C] read from CoreDNS's code; k8s-dns-spec.md
§20 sums them up. One API server and one kdns per Corefile variant serve the table; the event
test runs its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import pytest
import pytest_asyncio

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.testing import free_port, query, running

from ..plugins.k8s_kit import a, ptr, rev, srv
from .test_kubernetes_serve import Expect, check, nodata, nx, ok

shared_loop = pytest.mark.asyncio(loop_scope="module")

CLUSTER = Path(__file__).parent / "cluster" / "multicluster.yaml"
SERVICE_CIDRS = ("10.96.0.0/12", "fd00:10:96::/112")
ZONES = "cluster.local clusterset.local in-addr.arpa ip6.arpa"
MC = "multicluster clusterset.local"
#: variant -> options of the kubernetes block.
VARIANTS: dict[str, tuple[str, ...]] = {
    "main": (MC,),
    "nslabels": (MC, "namespace_labels team=dns"),
    "plain": (),  # clusterset.local is one more cluster zone
}
SOON = 5.0

Z, L = "testns.svc.clusterset.local.", "testns.svc.cluster.local."
CS = "clusterset.local."
SVC1, HDLS = "svc1." + Z, "hdls." + Z
W0A, W0B, DASH = "web-0.cluster-a." + HDLS, "web-0.cluster-b." + HDLS, "10-1-0-2.cluster-a." + HDLS
SVC1_EXTRA = [a(SVC1, "10.42.0.1"), a(SVC1, "fd00:42::1")]
HDLS_EXTRA = [a(W0A, "10.1.0.1"), a(DASH, "10.1.0.2"), a(W0B, "10.2.0.1"), a(W0B, "fd00:2::1")]


def corefile(port: int, kubeconfig: Path, options: tuple[str, ...]) -> str:
    """One kdns serving the cluster zones and clusterset.local."""
    body = "\n".join(f"        {line}" for line in (f"kubeconfig {kubeconfig}", *options))
    return f".:{port} {{\n    kubernetes {ZONES} {{\n{body}\n    }}\n}}\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ports(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, int]]:
    """Serve the clusterset and one kdns per variant; yield their DNS ports."""
    folder = tmp_path_factory.mktemp("multicluster")
    async with ApiServer([CLUSTER], poll_interval=0, service_cidrs=SERVICE_CIDRS) as api:
        kubeconfig = write_kubeconfig(folder / "kubeconfig", api.url)
        found: dict[str, int] = {}
        async with contextlib.AsyncExitStack() as stack:
            for variant, options in VARIANTS.items():
                port = found[variant] = free_port()
                sub = folder / variant
                sub.mkdir()
                server = await stack.enter_async_context(
                    running(corefile(port, kubeconfig, options), sub)
                )
                assert server.current is not None
                assert all(h.ready() for h in server.current.handlers if hasattr(h, "ready"))
            # Only the two multicluster variants watch imports, and a second slice watch.
            await api.wait_for_watches(2, "serviceimports")
            await api.wait_for_watches(5, "endpointslices")
            yield found


CASES: list[tuple[str, str, str, Expect]] = [
    # -- ClusterSetIP --------------------------------------------------------------------------
    ("main", SVC1, "A", ok(a(SVC1, "10.42.0.1"))),  # spec.ips [S][T]
    ("main", SVC1, "AAAA", ok(a(SVC1, "fd00:42::1"))),  # dual-stack [S]
    ("main", "svc1." + L, "A", ok(a("svc1." + L, "10.96.1.1"))),  # the local Service stays
    ("main", "SVC1.TestNS.svc.ClusterSet.Local.", "A",
     ok(a("SVC1.TestNS.svc.ClusterSet.Local.", "10.42.0.1"))),  # case kept [T]
    ("main", "_http._tcp." + SVC1, "SRV",
     ok(srv("_http._tcp." + SVC1, 50, 80, SVC1), extra=SVC1_EXTRA)),  # target: the service [S]
    ("main", "_dns._udp." + SVC1, "SRV",
     ok(srv("_dns._udp." + SVC1, 50, 53, SVC1), extra=SVC1_EXTRA)),  # [S]
    ("main", SVC1, "SRV",
     ok(srv(SVC1, 25, 80, SVC1), srv(SVC1, 25, 53, SVC1), extra=SVC1_EXTRA)),  # bare SRV [C]
    ("main", "_http.tcp." + SVC1, "SRV",
     ok(srv("_http.tcp." + SVC1, 50, 80, SVC1), extra=SVC1_EXTRA)),  # one underscore: SRV [C]
    ("main", "http.tcp." + SVC1, "SRV", nx(CS)),  # none: endpoint.cluster [C]
    ("main", "_http._udp." + SVC1, "SRV", nx(CS)),  # no such port [C]
    ("main", "api-0.cluster-a." + SVC1, "A",
     ok(a("api-0.cluster-a." + SVC1, "10.1.1.1"))),  # endpoint names of a ClusterSetIP [C]
    ("main", "cluster-a." + SVC1, "A", nx(CS)),  # no per-cluster name [S]
    ("main", "ep1." + SVC1, "A", nx(CS)),  # local endpoints are not imported
    ("main", "ep1.svc1." + L, "A", ok(a("ep1.svc1." + L, "10.244.1.1"))),  # still local
    ("main", "import-only." + Z, "A", ok(a("import-only." + Z, "10.42.0.2"))),
    ("main", "import-only." + L, "A", nx()),  # imports are not in the cluster zone
    ("main", "local-only." + Z, "A", nx(CS)),  # Services are not in the clusterset zone
    ("main", "web.prod.svc.clusterset.local.", "A",
     ok(a("web.prod.svc.clusterset.local.", "10.42.0.3"))),
    ("main", "web.nosuch.svc.clusterset.local.", "A", nx(CS)),  # namespace must exist [T]
    # -- Headless -------------------------------------------------------------------------------
    ("main", HDLS, "A",
     ok(a(HDLS, "10.1.0.1"), a(HDLS, "10.1.0.2"), a(HDLS, "10.2.0.1"))),  # both clusters [S][T]
    ("main", HDLS, "AAAA", ok(a(HDLS, "fd00:2::1"))),  # [S]
    ("main", W0A, "A", ok(a(W0A, "10.1.0.1"))),  # <hostname>.<clusterid> [S][T]
    ("main", W0B, "A", ok(a(W0B, "10.2.0.1"))),  # the same hostname in cluster-b [S]
    ("main", W0B, "AAAA", ok(a(W0B, "fd00:2::1"))),  # [S]
    ("main", DASH, "A", ok(a(DASH, "10.1.0.2"))),  # no hostname: dashed address [C]
    ("main", "web-0." + HDLS, "A", nx(CS)),  # endpoint without the cluster id [T]
    ("main", "web-0.cluster-c." + HDLS, "A", nx(CS)),  # unknown cluster [C]
    ("main", "web-2.cluster-a." + HDLS, "A", nx(CS)),  # not ready [S]
    ("main", "_http._tcp." + HDLS, "SRV", ok(  # targets carry the cluster id [S][T]
        srv("_http._tcp." + HDLS, 25, 8080, W0A), srv("_http._tcp." + HDLS, 25, 8080, DASH),
        srv("_http._tcp." + HDLS, 25, 8080, W0B), extra=HDLS_EXTRA)),
    ("main", HDLS, "SRV", ok(srv(HDLS, 25, 8080, W0A), srv(HDLS, 25, 8080, DASH),
                             srv(HDLS, 25, 8080, W0B), extra=HDLS_EXTRA)),  # bare SRV [C]
    ("main", HDLS, "TXT", nodata(CS)),
    ("main", HDLS, "MX", nodata(CS)),
    # -- the zone -------------------------------------------------------------------------------
    ("main", Z, "A", nodata(CS)),  # the namespace exists
    ("main", "svc." + CS, "A", nodata(CS)),
    ("main", "dns-version." + CS, "TXT",
     ok(("dns-version." + CS, "TXT", 28800, '"1.1.0"'))),  # CoreDNS's version, not MCS 1.0.0
    ("main", CS, "SOA", ok(("clusterset.local.", "SOA", 5,
                            f"ns.dns.{CS} hostmaster.{CS} * 7200 1800 86400 5"))),
    ("main", "nosuch." + Z, "A", nx(CS)),
    # -- PTR: CoreDNS serves none for clusterset addresses ---------------------------------------
    ("main", rev("10.42.0.1"), "PTR", nx("in-addr.arpa.")),  # [C]
    ("main", rev("10.1.0.1"), "PTR", nx("in-addr.arpa.")),  # [C]
    ("main", rev("10.96.1.1"), "PTR", ok(ptr(rev("10.96.1.1"), "svc1." + L))),
    # -- namespace_labels apply to imports through the namespace ---------------------------------
    ("nslabels", SVC1, "A", ok(a(SVC1, "10.42.0.1"))),
    ("nslabels", "web.prod.svc.clusterset.local.", "A", nx(CS)),  # prod lacks team=dns
    # -- without `multicluster`, clusterset.local is a cluster zone ------------------------------
    ("plain", SVC1, "A", ok(a(SVC1, "10.96.1.1"))),
    ("plain", "import-only." + Z, "A", nx(CS)),
    ("plain", W0A, "A", nx(CS)),
]  # fmt: skip


@shared_loop
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    ("variant", "name", "qtype", "want"), CASES, ids=[f"{v} {n} {t}" for v, n, t, _ in CASES]
)
async def test_answers(
    ports: dict[str, int], variant: str, name: str, qtype: str, want: Expect, tcp: bool
) -> None:
    check(await query(ports[variant], name, qtype, tcp=tcp), name, want)


# -- events ------------------------------------------------------------------------------------


def _import(name: str, ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "multicluster.x-k8s.io/v1alpha1",
        "kind": "ServiceImport",
        "metadata": {"name": name, "namespace": "testns"},
        "spec": {"type": "ClusterSetIP", "ips": [ip], "ports": [{"name": "http", "port": 80}]},
    }


def _mcs_slice(cluster: str, ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"hdls-{cluster}",
            "namespace": "testns",
            "labels": {
                "multicluster.kubernetes.io/service-name": "hdls",
                "multicluster.kubernetes.io/source-cluster": cluster,
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "hostname": "web-0"}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


async def eventually(port: int, name: str, qtype: str, want: set[str] | None) -> None:
    """Ask every 5 ms until the answer data is `want` (None: NXDOMAIN), within SOON."""
    async with asyncio.timeout(SOON):
        while True:
            reply = await query(port, name, qtype)
            got = {rd.to_text() for rrset in reply.answer for rd in rrset}
            if want is None and reply.rcode() == dns.rcode.NXDOMAIN:
                return
            if want is not None and reply.rcode() == dns.rcode.NOERROR and got == want:
                return
            await asyncio.sleep(0.005)


def serial(reply: dns.message.Message) -> int:
    """The SOA serial of a negative reply."""
    return int(reply.authority[0][0].serial)


async def test_imports_and_mcs_slices_follow_the_api(tmp_path: Path) -> None:
    """An import or an MCS slice added is answered soon, deleted is NXDOMAIN soon; the cluster
    zone's SOA serial does not move for clusterset changes, and a negative answer sent again
    from bytes carries the multicluster zone's own serial."""
    async with ApiServer([CLUSTER], poll_interval=0, service_cidrs=SERVICE_CIDRS) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        port = free_port()
        async with running(corefile(port, kubeconfig, (MC,)), tmp_path):
            local_serial = serial(await query(port, "nosuch." + L, "A"))
            await asyncio.sleep(1.1)  # the serials count seconds: let the clusterset's move on
            fresh = "fresh." + Z
            await eventually(port, fresh, "A", None)
            api.apply(_import("fresh", "10.42.0.7"))
            await eventually(port, fresh, "A", {"10.42.0.7"})
            await eventually(port, "fresh." + L, "A", None)  # never in the cluster zone
            api.patch("serviceimports", "testns", "fresh", {"spec": {"ips": ["10.42.0.8"]}})
            await eventually(port, fresh, "A", {"10.42.0.8"})
            api.delete("serviceimports", "testns", "fresh")
            await eventually(port, fresh, "A", None)

            web0c = "web-0.cluster-c." + HDLS
            api.apply(_mcs_slice("cluster-c", "10.3.0.1"))
            await eventually(port, web0c, "A", {"10.3.0.1"})
            await eventually(port, HDLS, "A", {"10.1.0.1", "10.1.0.2", "10.2.0.1", "10.3.0.1"})
            api.delete("endpointslices", "testns", "hdls-cluster-c")
            await eventually(port, web0c, "A", None)
            api.delete("serviceimports", "testns", "hdls")
            await eventually(port, HDLS, "A", None)

            assert serial(await query(port, "nosuch." + L, "A")) == local_serial
            computed = serial(await query(port, "nosuch." + Z, "A"))
            from_bytes = serial(await query(port, "nosuch." + Z, "A"))
            assert computed == from_bytes > local_serial
