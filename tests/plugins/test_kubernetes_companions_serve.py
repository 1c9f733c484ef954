"""transfer, autopath and k8s_external beside the kubernetes plugin, over real sockets.

kdns serves a cluster from the project's API server (examples/cluster.yaml); dnspython is
the client: an AXFR/IXFR secondary, a Pod (the query's source address is the Pod's IP, on
the loopback range) and an outside resolver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.testing import free_port, query, running

EXAMPLES = Path(__file__).parents[2] / "examples"
ZONE = "cluster.local."


@pytest.fixture
async def api() -> AsyncIterator[ApiServer]:
    async with ApiServer([EXAMPLES / "cluster.yaml"]) as server:
        yield server


def corefile(port: int, kubeconfig: Path, before: str = "", options: str = "") -> str:
    return (
        f".:{port} {{\n{before}"
        f"    kubernetes cluster.local {{\n        kubeconfig {kubeconfig}\n{options}    }}\n}}\n"
    )


def service(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", None)
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}], **spec},
    }
    if status is not None:
        obj["status"] = status
    return obj


async def until(check: Callable[[], Awaitable[bool]], tries: int = 250) -> None:
    """Poll a served answer until the watch has delivered a change."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the change never showed in the answers")


async def axfr(port: int, zone: str = ZONE, timeout: float = 3) -> dns.zone.Zone:
    """Transfer `zone` as a secondary does."""
    into = dns.zone.Zone(zone)
    await dns.asyncquery.inbound_xfr(
        "127.0.0.1", into, port=port, timeout=timeout, lifetime=timeout + 2
    )
    return into


# -- transfer ------------------------------------------------------------------------------


async def test_axfr_of_the_cluster_zone(api: ApiServer, tmp_path: Path) -> None:
    """§18: a secondary gets the cluster's Services; UDP and strangers are refused."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    port = free_port()
    before = "    transfer {\n        to 127.0.0.1\n    }\n"
    async with running(corefile(port, kubeconfig, before), folder=tmp_path):
        zone = await axfr(port)
        soa = zone.get_rdataset("@", "SOA")
        assert soa is not None
        api_a = zone.get_rdataset("kubernetes.default.svc", "A")
        assert api_a is not None
        assert {r.address for r in api_a} == {"10.3.0.1"}
        dns_srv = zone.get_rdataset("_dns._udp.kube-dns.kube-system.svc", "SRV")
        assert dns_srv is not None
        assert {(r.port, str(r.target.derelativize(zone.origin))) for r in dns_srv} == {
            (53, "kube-dns.kube-system.svc.cluster.local.")
        }
        assert zone.get_rdataset("@", "NS") is not None

        # IXFR from the current serial: the zone is up to date (one SOA).
        msg = dns.message.make_query(ZONE, "IXFR")
        msg.authority.append(
            dns.rrset.from_text(ZONE, 0, "IN", "SOA", f"a. b. {soa[0].serial} 1 1 1 1")
        )
        reply = await dns.asyncquery.tcp(msg, "127.0.0.1", port=port, timeout=3)
        assert [rrset.rdtype for rrset in reply.answer] == [dns.rdatatype.SOA]

        udp = await query(port, ZONE, "AXFR")
        assert udp.rcode() == dns.rcode.REFUSED
        other = await dns.asyncquery.tcp(
            dns.message.make_query(ZONE, "AXFR"),
            "127.0.0.1",
            port=port,
            source="127.0.0.9",
            timeout=3,
        )
        assert other.rcode() == dns.rcode.REFUSED


async def test_a_new_service_shows_in_the_next_transfer(api: ApiServer, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    port = free_port()
    before = "    transfer {\n        to *\n    }\n"
    async with running(corefile(port, kubeconfig, before), folder=tmp_path):
        first = await axfr(port)
        api.apply(service("late", clusterIP="10.3.0.77"))

        async def seen() -> bool:
            reply = await query(port, "late.default.svc.cluster.local")
            return reply.rcode() == dns.rcode.NOERROR

        await until(seen)
        second = await axfr(port)
        assert first.get_rdataset("late.default.svc", "A") is None
        late = second.get_rdataset("late.default.svc", "A")
        assert late is not None
        assert [r.address for r in late] == ["10.3.0.77"]


async def test_a_large_zone_transfers_in_several_messages(api: ApiServer, tmp_path: Path) -> None:
    """A zone larger than one message streams over one TCP connection in several."""
    for i in range(200):
        api.apply(service(f"service-number-{i:03d}-with-a-long-name", clusterIP=f"10.3.1.{i}"))
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    port = free_port()
    before = "    transfer {\n        to *\n    }\n"
    async with running(corefile(port, kubeconfig, before), folder=tmp_path):
        msg = dns.message.make_query(ZONE, "AXFR")
        messages = 0
        async for _ in _stream(port, msg):
            messages += 1
        assert messages >= 2
        zone = await axfr(port)
        last = zone.get_rdataset("service-number-199-with-a-long-name.default.svc", "A")
        assert last is not None
        assert [r.address for r in last] == ["10.3.1.199"]


async def _stream(port: int, msg: dns.message.Message) -> AsyncIterator[dns.message.Message]:
    """Yield the messages of a zone transfer as they arrive, up to the closing SOA."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        wire = msg.to_wire()
        writer.write(len(wire).to_bytes(2, "big") + wire)
        soas = 0
        while soas < 2:
            size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 3), "big")
            reply = dns.message.from_wire(await reader.readexactly(size), one_rr_per_rrset=True)
            soas += sum(1 for rrset in reply.answer if rrset.rdtype == dns.rdatatype.SOA)
            yield reply
    finally:
        writer.close()


# -- autopath ------------------------------------------------------------------------------


async def test_autopath_completes_a_pods_search_path(api: ApiServer, tmp_path: Path) -> None:
    """§19: from a Pod in `dev`, `web.prod.dev.svc...` answers web.prod's address."""
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
    api.apply(service("web", "prod", clusterIP="10.3.0.80"))
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": "dev"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"podIP": "127.0.0.2"},
        }
    )
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    port = free_port()
    text = corefile(port, kubeconfig, "    autopath @kubernetes\n", "        pods verified\n")
    async with running(text, folder=tmp_path):
        name = "web.prod.dev.svc.cluster.local."
        msg = dns.message.make_query(name, "A")
        reply = await dns.asyncquery.udp(msg, "127.0.0.1", port=port, source="127.0.0.2", timeout=3)
        assert reply.rcode() == dns.rcode.NOERROR
        assert [rrset.to_text() for rrset in reply.answer] == [
            f"{name} 5 IN CNAME web.prod.svc.cluster.local.",
            "web.prod.svc.cluster.local. 5 IN A 10.3.0.80",
        ]
        assert reply.question[0].name.to_text() == name
        # The same name from an address no Pod has: no search walk.
        reply = await query(port, name)
        assert reply.rcode() == dns.rcode.NXDOMAIN


# -- k8s_external --------------------------------------------------------------------------


async def test_k8s_external_follows_external_ips(api: ApiServer, tmp_path: Path) -> None:
    """Services' externalIPs and load-balancer IPs answer under the outside zone."""
    api.apply(service("shop", clusterIP="10.3.0.90", externalIPs=["192.0.2.10"]))
    api.apply(
        service(
            "lb",
            type="LoadBalancer",
            clusterIP="10.3.0.91",
            status={"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}},
        )
    )
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    port = free_port()
    text = corefile(port, kubeconfig).replace("}\n}\n", "}\n    k8s_external example.org\n}\n")
    async with running(text, folder=tmp_path):
        reply = await query(port, "shop.default.example.org")
        assert [r.address for r in reply.answer[0]] == ["192.0.2.10"]
        reply = await query(port, "lb.default.example.org")
        assert [r.address for r in reply.answer[0]] == ["198.51.100.7"]
        reply = await query(port, "example.org", "SOA")
        assert str(reply.answer[0][0].mname) == "ns1.dns.example.org."
        reply = await query(port, "kubernetes.default.example.org")  # no external IP
        assert reply.rcode() == dns.rcode.NXDOMAIN

        api.apply(service("shop", clusterIP="10.3.0.90", externalIPs=["192.0.2.11"]))

        async def moved() -> bool:
            reply = await query(port, "shop.default.example.org")
            return bool(reply.answer) and reply.answer[0][0].address == "192.0.2.11"

        await until(moved)
