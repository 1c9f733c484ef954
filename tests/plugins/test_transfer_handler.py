"""transfer handler: AXFR/IXFR of a cluster zone from the kubernetes plugin behind it.

Sections refer to /work/shared/research/k8s-dns-spec.md (§18 zone transfer).
"""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR, REFUSED, SERVFAIL, Handler, Request
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.objects import Endpoint, EndpointSlice, Port, Service
from kdns.plugins.testing import RecordingWriter, build, make_request, run
from kdns.plugins.transfer import Transfer, Transferer
from kdns.plugins.transfer.handler import MAX_MESSAGE, envelopes

from .k8s_kit import CLOCK, fill, handler

Row = tuple[str, str, int, str]
Z = "cluster.local."
SOA_ROW = ("cluster.local.", "SOA", 5, f"ns.dns.{Z} hostmaster.{Z} {CLOCK} 7200 1800 86400 5")
HTTP = Port("http", "TCP", 80)

SERVICES = [
    Service(
        "prod", "web", "ClusterIP", cluster_ips=("10.96.10.10",), ports=(HTTP, Port("", "TCP", 81))
    ),
    Service("prod", "db", "Headless", ports=(HTTP,)),
    Service("prod", "ext", "ExternalName", external_name="www.example.com"),
    Service("prod", "ext-ip", "ExternalName", external_name="1.2.3.4"),
    Service("kube-system", "kube-dns", "ClusterIP", cluster_ips=("10.96.0.10",)),
    Service("ghost", "aaa", "ClusterIP", cluster_ips=("10.96.9.9",)),  # no such namespace
]
SLICES = [
    EndpointSlice(
        "prod",
        "db-a",
        "db",
        "IPv4",
        (
            Endpoint(("10.244.1.1",), hostname="db-0"),
            Endpoint(("10.244.1.2",)),
            Endpoint(("10.244.1.9",), ready=False),
        ),
        (Port("pg", "TCP", 5432), Port("", "TCP", 9000)),
    ),
    EndpointSlice("kube-system", "kube-dns-a", "kube-dns", "IPv4", (Endpoint(("10.244.0.5",)),)),
]

#: The whole stream of `cluster.local.`, in order (§18 [T]).
STREAM: list[Row] = [
    SOA_ROW,
    (Z, "NS", 5, "kube-dns.kube-system.svc.cluster.local."),
    ("kube-dns.kube-system.svc.cluster.local.", "A", 0, "10.96.0.10"),
    ("db.prod.svc.cluster.local.", "A", 5, "10.244.1.1"),
    ("db-0.db.prod.svc.cluster.local.", "A", 5, "10.244.1.1"),
    ("_pg._tcp.db.prod.svc.cluster.local.", "SRV", 5, "0 50 5432 db-0.db.prod.svc.cluster.local."),
    ("db.prod.svc.cluster.local.", "A", 5, "10.244.1.2"),
    ("10-244-1-2.db.prod.svc.cluster.local.", "A", 5, "10.244.1.2"),
    (
        "_pg._tcp.db.prod.svc.cluster.local.",
        "SRV",
        5,
        "0 50 5432 10-244-1-2.db.prod.svc.cluster.local.",
    ),
    ("ext.prod.svc.cluster.local.", "CNAME", 5, "www.example.com."),
    ("kube-dns.kube-system.svc.cluster.local.", "A", 5, "10.96.0.10"),
    ("web.prod.svc.cluster.local.", "A", 5, "10.96.10.10"),
    ("web.prod.svc.cluster.local.", "SRV", 5, "0 100 80 web.prod.svc.cluster.local."),
    ("_http._tcp.web.prod.svc.cluster.local.", "SRV", 5, "0 100 80 web.prod.svc.cluster.local."),
    ("web.prod.svc.cluster.local.", "SRV", 5, "0 100 81 web.prod.svc.cluster.local."),
    SOA_ROW,
]


def row(rr: dnslib.RR) -> Row:
    return (str(rr.rname), dnslib.QTYPE.get(rr.rtype), rr.ttl, str(rr.rdata))


def cluster(**kw: object) -> Index:
    return fill(
        Index(clock=lambda: CLOCK),
        namespaces=["prod", "kube-system"],
        services=kw.get("services", SERVICES),  # type: ignore[arg-type]
        slices=kw.get("slices", SLICES),  # type: ignore[arg-type]
        pods=[],
    )


async def chain(directive: str = "transfer {\nto *\n}", k8s: str = "", **kw: object) -> Handler:
    """A started transfer handler in front of a kubernetes handler over the small cluster."""
    kube = handler(k8s, zones="cluster.local in-addr.arpa", index=cluster(**kw))
    front = build(directive, kube, keys="cluster.local")
    assert isinstance(front, Transfer)
    await front.start()
    return front


def ixfr(name: str, serial: int) -> Request:
    """An IXFR over TCP from a client that holds `serial`."""
    msg = dnslib.DNSRecord.question(name, "IXFR")
    soa = dnslib.SOA("ns.", "host.", (serial, 1, 1, 1, 1))
    msg.add_auth(dnslib.RR(name, dnslib.QTYPE.SOA, rdata=soa))
    return Request(dnslib.DNSRecord.parse(msg.pack()), "tcp", ("10.240.0.1", 5353))


def stream(w: RecordingWriter) -> list[Row]:
    return [row(rr) for reply in w.replies for rr in reply.rr]


async def test_axfr_streams_the_zone_in_coredns_order() -> None:
    """§18: SOA, NS, glue (TTL 0), Services sorted by name with their records, SOA."""
    rcode, w = await run(await chain(), make_request(Z, "AXFR", proto="tcp"))
    assert rcode == NOERROR
    assert stream(w) == STREAM
    reply = w.replies[0]
    assert reply.header.aa
    assert reply.header.rcode == NOERROR
    assert str(reply.q.qname) == Z
    assert reply.q.qtype == dnslib.QTYPE.AXFR


async def test_ixfr_with_the_current_serial_gets_the_soa_alone() -> None:
    """§18: an up-to-date client gets one SOA [T]."""
    rcode, w = await run(await chain(), ixfr(Z, CLOCK))
    assert rcode == NOERROR
    assert stream(w) == [SOA_ROW]


async def test_ixfr_with_an_older_serial_gets_the_whole_zone() -> None:
    """§18: otherwise a full transfer [T]."""
    _, w = await run(await chain(), ixfr(Z, CLOCK - 10))
    assert stream(w) == STREAM


async def test_ixfr_without_the_client_soa_is_servfail() -> None:
    req = make_request(Z, "IXFR", proto="tcp")
    rcode, w = await run(await chain(), req)
    assert rcode == SERVFAIL
    assert not w.replies


@pytest.mark.parametrize(
    ("directive", "remote", "proto"),
    [
        ("transfer {\nto *\n}", "10.240.0.1", "udp"),  # §18 only over TCP
        ("transfer {\nto 10.0.0.2\n}", "10.0.0.1", "tcp"),  # §18 not allowed by `to`
    ],
)
async def test_refused(directive: str, remote: str, proto: str) -> None:
    req = make_request(Z, "AXFR", proto=proto, remote=(remote, 5353))  # type: ignore[arg-type]
    rcode, w = await run(await chain(directive), req)
    assert rcode == REFUSED
    assert not w.replies


async def test_an_allowed_address_may_transfer() -> None:
    req = make_request(Z, "AXFR", proto="tcp", remote=("2001:db8::1", 5353))
    _, w = await run(await chain("transfer {\nto 10.0.0.2 2001:db8:0::1\n}"), req)
    assert stream(w) == STREAM


async def test_the_longest_transfer_zone_decides_who_may_transfer() -> None:
    """Several `transfer` directives: the one with the closest zone applies (CoreDNS)."""
    directive = "transfer . {\nto 10.9.9.9\n}\ntransfer cluster.local {\nto *\n}"
    _, w = await run(await chain(directive), make_request(Z, "AXFR", proto="tcp"))
    assert stream(w) == STREAM


@pytest.mark.parametrize(
    ("name", "directive"),
    [
        ("svc.cluster.local.", "transfer {\nto *\n}"),  # no plugin transfers a sub-name
        ("10.in-addr.arpa.", "transfer 10.in-addr.arpa {\nto *\n}"),  # reverse zones are not
        (Z, "transfer example.org {\nto *\n}"),  # not a transfer zone: passed on
    ],
)
async def test_names_no_plugin_transfers_reach_kubernetes_which_refuses(
    name: str, directive: str
) -> None:
    rcode, w = await run(await chain(directive), make_request(name, "AXFR", proto="tcp"))
    assert rcode == REFUSED
    assert not w.replies


async def test_other_queries_pass_through() -> None:
    rcode, w = await run(await chain(), make_request("web.prod.svc.cluster.local.", "A"))
    assert rcode == NOERROR
    assert [row(rr) for rr in w.reply.rr] == [
        ("web.prod.svc.cluster.local.", "A", 5, "10.96.10.10")
    ]


async def test_namespaces_option_limits_the_stream() -> None:
    """§15: `namespaces` filters AXFR."""
    _, w = await run(
        await chain(k8s="namespaces kube-system"), make_request(Z, "AXFR", proto="tcp")
    )
    owners = {r[0] for r in stream(w)}
    assert not any(o.endswith(".prod.svc.cluster.local.") for o in owners)
    assert "kube-dns.kube-system.svc.cluster.local." in owners


async def test_a_large_zone_goes_in_several_messages_of_at_most_16k() -> None:
    """Each message is a whole reply that parses (compression pointers reach 16 KiB at most);
    together they are the zone."""
    services = [
        Service(
            "prod",
            f"svc-{i:04d}-{'x' * 40}",
            "ClusterIP",
            cluster_ips=(f"10.96.{i // 250}.{i % 250}",),
            ports=(HTTP,),
        )
        for i in range(1500)
    ]
    _, w = await run(
        await chain(services=services, slices=[]), make_request(Z, "AXFR", proto="tcp")
    )
    assert len(w.replies) >= 2
    for reply in w.replies:
        assert len(reply.pack()) <= MAX_MESSAGE
        assert reply.header.aa
        assert str(reply.q.qname) == Z
    rows = stream(w)
    assert rows[0] == rows[-1] == SOA_ROW
    # SOA twice, NS and glue (ns.dns), and per Service an A, a bare SRV and an _http._tcp SRV.
    assert len(rows) == 4 + 1500 * 3


def test_envelopes_keep_every_record_in_order() -> None:
    """Records of 26 bytes under a 60-byte limit: two per message, none lost or reordered."""
    records = [dnslib.RR(f"n{i}.example.", rdata=dnslib.A("10.0.0.1")) for i in range(9)]
    chunks = envelopes(records, limit=60)
    assert [len(c) for c in chunks] == [2, 2, 2, 2, 1]
    assert [rr for chunk in chunks for rr in chunk] == records


async def test_transferers_are_asked_in_chain_order() -> None:
    """The first plugin behind that is authoritative for the zone supplies it."""

    class Fake:
        name = "fake"

        def __init__(self, nxt: Handler) -> None:
            self.next = nxt

        async def serve_dns(self, req: object, w: object) -> int:
            raise AssertionError("not queried")

        def transfer(self, zone: str, serial: int = 0) -> list[dnslib.RR] | None:
            if zone != "example.org.":
                return None
            soa = dnslib.RR(zone, dnslib.QTYPE.SOA, rdata=dnslib.SOA("a.", "b.", (7, 1, 1, 1, 1)))
            return [soa, dnslib.RR("x." + zone, rdata=dnslib.A("192.0.2.1")), soa]

    kube = handler("", zones="cluster.local in-addr.arpa", index=cluster())
    fake = Fake(kube)
    assert isinstance(fake, Transferer)
    front = build("transfer example.org cluster.local {\nto *\n}", fake, keys=".")  # type: ignore[arg-type]
    await front.start()  # type: ignore[attr-defined]
    _, w = await run(front, make_request("example.org.", "AXFR", proto="tcp"))
    assert [r[0] for r in stream(w)] == ["example.org.", "x.example.org.", "example.org."]
    _, w = await run(front, make_request(Z, "AXFR", proto="tcp"))
    assert stream(w) == STREAM
