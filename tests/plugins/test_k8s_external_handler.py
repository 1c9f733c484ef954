"""k8s_external handler: Services' external addresses under an outside zone.

The table follows CoreDNS's k8s_external tests (external_test.go, apex_test.go), over the
kubernetes plugin's index; [C] marks behaviour read from CoreDNS's code.
"""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN, Handler
from kdns.plugins.k8s_external import K8sExternal
from kdns.plugins.kubernetes.convert import service as convert_service
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.objects import Endpoint, EndpointSlice, Port, Service
from kdns.plugins.testing import StubHandler, build, make_request, run
from kdns.plugins.transfer import Transfer

from .k8s_kit import CLOCK, Expect, Got, fill, handler, rows

HTTP = Port("http", "TCP", 80)
E = "testns.example.com."
SOA = (
    "example.com.",
    "SOA",
    5,
    f"ns1.dns.example.com. hostmaster.dns.example.com. {CLOCK} 7200 1800 86400 5",
)


def ext(name: str, *ips: str, ports: tuple[Port, ...] = (HTTP,), ns: str = "testns") -> Service:
    return Service(ns, name, "ClusterIP", ("10.0.0.9",), ports=ports, external_ips=ips)


SERVICES = [
    ext("svc1", "1.2.3.4"),
    ext("svc6", "1:2::5"),
    ext("svc11", "2.3.4.5"),
    ext("svc12", "dummy.hostname"),
    ext("noports", "5.6.7.8", ports=()),
    ext("svc1", "9.9.9.9", ns="ghost"),  # its namespace does not exist
    Service("testns", "plain", "ClusterIP", ("10.0.0.2",), ports=(HTTP,)),
    Service("testns", "svc-headless", "Headless", ports=(HTTP,)),
]
SLICES = [
    EndpointSlice(
        "testns",
        "svc-headless-a",
        "svc-headless",
        "IPv4",
        (
            Endpoint(("1.2.3.4",), hostname="endpoint-svc-0"),
            Endpoint(("1.2.3.5",), hostname="endpoint-svc-1"),
            Endpoint(("1.2.3.6",), hostname="down", ready=False),
        ),
        (HTTP,),
    ),
]


def cluster() -> Index:
    return fill(
        Index(clock=lambda: CLOCK),
        namespaces=["testns"],
        services=SERVICES,
        slices=SLICES,
        pods=[],
    )


def chain(options: str = "headless", zones: str = "example.com in-addr.arpa") -> Handler:
    """k8s_external in front of the kubernetes plugin (whose next is a stub)."""
    kube = handler(zones="cluster.local", nxt=StubHandler(), index=cluster())
    text = f"k8s_external {zones} {{\n{options}\n}}" if options else f"k8s_external {zones}"
    front = build(text, kube, keys=".")
    assert isinstance(front, K8sExternal)
    return front


async def ask(h: Handler, name: str, qtype: str) -> Got:
    _, w = await run(h, make_request(name, qtype))
    reply = w.reply
    return Got(
        reply.header.rcode,
        bool(reply.header.aa),
        bool(reply.header.tc),
        rows(reply.rr),
        rows(reply.auth),
        rows(reply.ar),
    )


def a(owner: str, ip: str, ttl: int = 5) -> tuple[str, str, int, str]:
    return (owner, "AAAA" if ":" in ip else "A", ttl, ip)


def srv(owner: str, weight: int, target: str) -> tuple[str, str, int, str]:
    return (owner, "SRV", 5, f"0 {weight} 80 {target}")


NODATA = Expect(NOERROR, authority=[SOA])
NX = Expect(NXDOMAIN, authority=[SOA])
H = "svc-headless." + E

TABLE = [
    # PTR from the external IPs, in a reverse zone of the plugin [T]
    (
        "4.3.2.1.in-addr.arpa.",
        "PTR",
        Expect(NOERROR, [("4.3.2.1.in-addr.arpa.", "PTR", 5, "svc1." + E)]),
    ),
    (
        "9.9.9.9.in-addr.arpa.",
        "PTR",  # only `namespaces` filters these PTRs, not the namespace's existence [C]
        Expect(NOERROR, [("9.9.9.9.in-addr.arpa.", "PTR", 5, "svc1.ghost.example.com.")]),
    ),
    (
        "8.9.9.9.in-addr.arpa.",
        "PTR",
        Expect(
            NXDOMAIN,
            authority=[
                ("in-addr.arpa.", "SOA", 5, SOA[3].replace("example.com.", "in-addr.arpa."))
            ],
        ),
    ),
    ("svc1." + E, "PTR", NODATA),  # [T]
    ("not-existing." + E, "PTR", NX),  # [T]
    # Services with external IPs [T]
    ("svc1." + E, "A", Expect(NOERROR, [a("svc1." + E, "1.2.3.4")])),
    ("svc1." + E, "AAAA", NODATA),
    (
        "svc1." + E,
        "SRV",
        Expect(NOERROR, [srv("svc1." + E, 100, "svc1." + E)], [], [a("svc1." + E, "1.2.3.4")]),
    ),
    (
        "_http._tcp.svc1." + E,
        "SRV",
        Expect(
            NOERROR,
            [srv("_http._tcp.svc1." + E, 100, "svc1." + E)],
            [],
            [a("svc1." + E, "1.2.3.4")],
        ),
    ),
    ("*._not-udp-or-tcp.svc1." + E, "SRV", NX),
    ("svc1." + E, "TXT", NODATA),
    ("svc6." + E, "AAAA", Expect(NOERROR, [a("svc6." + E, "1:2::5")])),
    (
        "svc6." + E,
        "SRV",
        Expect(NOERROR, [srv("svc6." + E, 100, "svc6." + E)], [], [a("svc6." + E, "1:2::5")]),
    ),
    ("svc11." + E, "A", Expect(NOERROR, [a("svc11." + E, "2.3.4.5")])),
    # a load balancer host name: a CNAME (its target is resolved through the server) [T]
    ("svc12." + E, "A", Expect(NOERROR, [("svc12." + E, "CNAME", 5, "dummy.hostname.")])),
    ("svc12." + E, "SRV", Expect(NOERROR, [srv("svc12." + E, 100, "dummy.hostname.")])),
    # no ports: addresses, no SRV [C]
    ("noports." + E, "A", Expect(NOERROR, [a("noports." + E, "5.6.7.8")])),
    ("noports." + E, "SRV", NODATA),
    # names that do not exist [T]
    ("svc0." + E, "A", NX),
    ("svc0." + E, "AAAA", NX),
    ("svc0.svc-nons.example.com.", "A", NX),
    ("svc1.ghost.example.com.", "A", NX),  # the namespace must exist
    ("plain." + E, "A", NX),  # no external IP: not in this zone
    ("a.b.c.svc1." + E, "A", NX),  # too many labels
    (E, "A", NODATA),  # the namespace exists [T]
    (E, "SOA", NODATA),  # [T]
    # an endpoint label under a Service with external IPs is ignored [C]
    ("x.svc1." + E, "A", Expect(NOERROR, [a("x.svc1." + E, "1.2.3.4")])),
    # headless Services [T]
    (H, "A", Expect(NOERROR, [a(H, "1.2.3.4"), a(H, "1.2.3.5")])),
    (
        H,
        "SRV",
        Expect(
            NOERROR,
            [srv(H, 50, "endpoint-svc-0." + H), srv(H, 50, "endpoint-svc-1." + H)],
            [],
            [a("endpoint-svc-0." + H, "1.2.3.4"), a("endpoint-svc-1." + H, "1.2.3.5")],
        ),
    ),
    (
        "_http._tcp." + H,
        "SRV",
        Expect(
            NOERROR,
            [
                srv("_http._tcp." + H, 50, "endpoint-svc-0." + H),
                srv("_http._tcp." + H, 50, "endpoint-svc-1." + H),
            ],
            [],
            [a("endpoint-svc-0." + H, "1.2.3.4"), a("endpoint-svc-1." + H, "1.2.3.5")],
        ),
    ),
    ("endpoint-svc-0." + H, "A", Expect(NOERROR, [a("endpoint-svc-0." + H, "1.2.3.4")])),
    (
        "endpoint-svc-1." + H,
        "SRV",
        Expect(
            NOERROR,
            [srv("endpoint-svc-1." + H, 100, "endpoint-svc-1." + H)],
            [],
            [a("endpoint-svc-1." + H, "1.2.3.5")],
        ),
    ),
    ("down." + H, "A", NX),  # not ready
    # the apex and its name server [T]
    ("example.com.", "SOA", Expect(NOERROR, [SOA])),
    (
        "example.com.",
        "NS",
        Expect(
            NOERROR,
            [("example.com.", "NS", 5, "ns1.dns.example.com.")],
            [],
            [a("ns1.dns.example.com.", "10.244.0.5")],
        ),
    ),
    ("example.com.", "SRV", NODATA),
    ("dns.example.com.", "SRV", NODATA),
    ("dns.example.com.", "NS", NODATA),
    ("ns1.dns.example.com.", "SRV", NODATA),
    ("ns1.dns.example.com.", "AAAA", NODATA),
    ("ns1.dns.example.com.", "A", Expect(NOERROR, [a("ns1.dns.example.com.", "10.244.0.5")])),
    ("ns2.dns.example.com.", "A", NX),  # [C]
    ("x.ns1.dns.example.com.", "A", NX),  # [C]
]


@pytest.mark.parametrize(("name", "qtype", "want"), TABLE)
async def test_answers(name: str, qtype: str, want: Expect) -> None:
    got = await ask(chain(), name, qtype)
    assert (got.rcode, got.aa, got.tc) == (want.rcode, True, want.tc)
    assert got.answer == sorted(want.answer)
    assert got.authority == sorted(want.authority)
    assert got.additional == sorted(want.additional)


async def test_headless_off_by_default() -> None:
    got = await ask(chain(""), H, "A")
    assert got.rcode == NXDOMAIN


async def test_ttl_and_apex_options() -> None:
    front = chain("ttl 60\napex ns")
    got = await ask(front, "svc1." + E, "A")
    assert got.answer == [a("svc1." + E, "1.2.3.4", 60)]
    got = await ask(front, "example.com.", "NS")
    assert got.answer == [("example.com.", "NS", 60, "ns1.ns.example.com.")]
    assert got.additional == [a("ns1.ns.example.com.", "10.244.0.5", 60)]


@pytest.mark.parametrize(
    ("options", "name", "passes"),
    [
        ("fallthrough", "svc0." + E, True),
        ("fallthrough", "svc1." + E, False),  # answered
        ("fallthrough", E, False),  # NODATA never falls through
        ("fallthrough example.net", "svc0." + E, False),  # other zones only
        ("", "svc0." + E, False),
    ],
)
async def test_fallthrough(options: str, name: str, passes: bool) -> None:
    stub = StubHandler(NOERROR, ("fell.through. 60 IN A 192.0.2.1",))
    kube = handler(zones="cluster.local", nxt=stub, index=cluster())
    text = f"k8s_external example.com {{\n{options}\n}}" if options else "k8s_external example.com"
    front = build(text, kube, keys=".")
    await run(front, make_request(name, "A"))
    assert bool(stub.calls) == passes


async def test_without_kubernetes_every_query_passes() -> None:
    stub = StubHandler()
    front = build("k8s_external example.com", stub, keys=".")
    await front.start()  # type: ignore[attr-defined]
    await run(front, make_request("svc1." + E, "A"))
    assert len(stub.calls) == 1


async def test_names_outside_the_zones_pass_to_kubernetes() -> None:
    _, w = await run(chain(), make_request("svc1.testns.svc.cluster.local.", "A"))
    assert rows(w.reply.rr) == [("svc1.testns.svc.cluster.local.", "A", 5, "10.0.0.9")]


async def test_load_balancer_host_names_are_resolved_through_the_server() -> None:
    front = chain()
    assert isinstance(front, K8sExternal)
    asked: list[tuple[str, int]] = []

    async def resolve(name: str, qtype: int) -> dnslib.DNSRecord:
        asked.append((name, qtype))
        reply = dnslib.DNSRecord.question(name, dnslib.QTYPE.get(qtype)).reply()
        if qtype == dnslib.QTYPE.A:
            reply.add_answer(*dnslib.RR.fromZone(f"{name} 30 IN A 192.0.2.12"))
        reply.header.tc = 1
        return reply

    front.resolve = resolve
    got = await ask(front, "svc12." + E, "A")
    assert got.answer == sorted(
        [("svc12." + E, "CNAME", 5, "dummy.hostname."), ("dummy.hostname.", "A", 30, "192.0.2.12")]
    )
    assert got.tc
    got = await ask(front, "svc12." + E, "SRV")
    assert got.additional == [("dummy.hostname.", "A", 30, "192.0.2.12")]
    assert asked[-2:] == [("dummy.hostname.", 1), ("dummy.hostname.", 28)]


def test_external_ips_come_from_the_spec_and_the_load_balancer() -> None:
    svc = convert_service(
        {
            "metadata": {"name": "lb", "namespace": "prod"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "externalIPs": ["192.0.2.1"]},
            "status": {
                "loadBalancer": {
                    "ingress": [{"ip": "2001:DB8::1"}, {"hostname": "LB.example.net"}, {}]
                }
            },
        }
    )
    assert svc.external_ips == ("192.0.2.1", "2001:db8::1", "lb.example.net")


async def test_zone_transfer() -> None:
    """transfer serves k8s_external zones too (the first transferer in the chain)."""
    front = chain()
    xfr = build("transfer example.com {\nto *\n}", front, keys=".")
    assert isinstance(xfr, Transfer)
    await xfr.start()
    _, w = await run(xfr, make_request("example.com.", "AXFR", proto="tcp"))
    got = [
        (str(rr.rname), dnslib.QTYPE.get(rr.rtype), str(rr.rdata)) for r in w.replies for rr in r.rr
    ]
    assert got[0] == got[-1] == ("example.com.", "SOA", SOA[3])
    body = got[1:-1]
    assert body[:2] == [
        ("example.com.", "NS", "ns1.dns.example.com."),
        ("ns1.dns.example.com.", "A", "10.244.0.5"),
    ]
    assert ("noports." + E, "A", "5.6.7.8") in body
    assert ("svc1." + E, "A", "1.2.3.4") in body
    assert ("_http._tcp.svc1." + E, "SRV", "0 100 80 svc1." + E) in body
    assert ("svc12." + E, "CNAME", "dummy.hostname.") in body
    assert ("endpoint-svc-0." + H, "A", "1.2.3.4") in body
    assert ("_http._tcp." + H, "SRV", "0 50 80 endpoint-svc-1." + H) in body
    assert not any(name.startswith("plain.") for name, _, _ in body)
    owners = [name for name, _, _ in body[2:]]
    assert owners.index("noports." + E) < owners.index("svc1." + E) < owners.index("svc6." + E)
