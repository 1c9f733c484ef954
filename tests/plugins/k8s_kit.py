"""A small cluster, a kubernetes handler serving it, and the rows the answer tables compare.

Every handler here is built from a real Corefile stanza and an Index filled with objects.py
objects; no API server is involved. The index clock is fixed, so the SOA serial is known.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

import dnslib

from kdns.plugins.base import NOERROR, NXDOMAIN, BuildContext, Handler
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.objects import (
    Endpoint,
    EndpointSlice,
    KubeObject,
    Namespace,
    Pod,
    Port,
    Service,
)
from kdns.plugins.testing import make_request, parse_one, run

CLOCK = 1_700_000_000
ZONES = "cluster.local in-addr.arpa ip6.arpa"
HTTP = Port("http", "TCP", 80)

Row = tuple[str, str, int, str]


def _svc(name: str, *ips: str, ports: tuple[Port, ...] = (HTTP,), ns: str = "testns") -> Service:
    return Service(ns, name, "ClusterIP", cluster_ips=ips, ports=ports)


def _headless(name: str, ports: tuple[Port, ...] = (HTTP,), ns: str = "testns") -> Service:
    return Service(ns, name, "Headless", ports=ports)


def _ext(name: str, target: str) -> Service:
    return Service("testns", name, "ExternalName", external_name=target)


def _slice(
    svc: str,
    name: str,
    family: str,
    *endpoints: Endpoint,
    ports: tuple[Port, ...] = (Port("http", "TCP", 8080),),
    ns: str = "testns",
) -> EndpointSlice:
    return EndpointSlice(ns, name, svc, family, endpoints, ports)  # type: ignore[arg-type]


def _ep(ip: str, hostname: str = "", pod: str = "", ready: bool = True) -> Endpoint:
    return Endpoint((ip,), ready=ready, hostname=hostname, pod_name=pod)


NAMESPACES = ["testns", "prod", "kube-system", "default", "other"]

SERVICES = [
    _svc("svc1", "10.0.0.1"),
    _svc("svc6", "1234:abcd::1"),
    _svc("dual", "10.0.0.3", "fd00::3"),
    _svc(
        "multi",
        "10.0.0.4",
        ports=(HTTP, Port("https", "TCP", 443), Port("dns", "UDP", 53), Port("", "TCP", 8080)),
    ),
    _svc("noports", "10.0.0.5", ports=()),
    _svc("empty", "10.0.0.6"),
    _headless("hdls1"),
    _headless("hdls4"),
    _headless("hdls-noports", ports=()),
    _headless("hdls-down"),
    _headless("hdls-none"),
    _ext("ext", "ext.example.com"),
    _ext("ext-dot", "ext.example.com."),
    _ext("ext-in", "svc1.testns.svc.cluster.local"),
    _ext("ext-self", "ext-self.testns.svc.cluster.local"),
    _ext("ext-below", "www.ext-below.testns.svc.cluster.local"),
    _ext("ext-ip", "1.2.3.4"),
    _ext("ext-missing", "nosuch.testns.svc.cluster.local"),
    _ext("ext-chain", "ext.testns.svc.cluster.local"),
    _ext("loop-a", "loop-b.testns.svc.cluster.local"),
    _ext("loop-b", "loop-a.testns.svc.cluster.local"),
    _svc(
        "kube-dns",
        "10.96.0.10",
        ports=(Port("dns", "UDP", 53), Port("dns-tcp", "TCP", 53)),
        ns="kube-system",
    ),
    _svc("web", "10.96.10.10", ns="prod"),
    _svc("svc1", "10.0.1.1", ns="other"),
    _svc("svc", "10.0.9.9", ns="ghost"),  # its namespace does not exist
]

LONG_POD = "p" * 64

SLICES = [
    _slice(
        "svc1",
        "svc1-a",
        "IPv4",
        _ep("172.0.0.1", hostname="ep1a"),
        _ep("172.0.0.2", pod="svc1-pod-2"),
        _ep("172.0.0.99", ready=False),
    ),
    _slice("svc1", "svc1-b", "IPv4", _ep("172.0.0.1", hostname="ep1a")),
    _slice("empty", "empty-a", "IPv4", _ep("172.0.0.60", ready=False)),
    _slice(
        "hdls1",
        "hdls1-v4",
        "IPv4",
        _ep("172.0.0.2", pod="hdls1-pod-a"),
        _ep("172.0.0.3", hostname="db-0"),
        _ep("172.0.0.4", hostname="db-0"),
        _ep("172.0.0.5", hostname="down", ready=False),
    ),
    _slice(
        "hdls1",
        "hdls1-v6",
        "IPv6",
        _ep("fd00:10:244:2::81"),
        _ep("2001:db8:3333:4444:5555:6666::"),
        _ep("fd00:10:244:2::3", hostname="db-0"),
    ),
    _slice(
        "hdls4",
        "hdls4-a",
        "IPv4",
        _ep("10.244.5.1", pod=LONG_POD),
        _ep("10.244.5.2", pod="hdls4-b"),
        ports=(Port("", "TCP", 9000),),
    ),
    _slice("hdls-noports", "hdls-noports-a", "IPv4", _ep("10.244.6.1"), ports=()),
    _slice("hdls-down", "hdls-down-a", "IPv4", _ep("10.244.7.1", ready=False)),
    _slice(
        "kube-dns",
        "kube-dns-a",
        "IPv4",
        _ep("10.244.0.5", pod="coredns-a"),
        _ep("10.244.0.6", pod="coredns-b"),
        ports=(Port("dns", "UDP", 53),),
        ns="kube-system",
    ),
    # An unlabelled slice is no Service's: DNS ignores it.
    _slice("", "stray", "IPv4", _ep("172.0.0.77")),
]

PODS = [
    Pod("prod", "web-1", "10.244.1.10"),
    Pod("prod", "web-v6", "fd00:10:244:4::7"),
    Pod("testns", "other-pod", "10.244.9.9"),
]


def fill(
    index: Index,
    *,
    namespaces: Iterable[str] = NAMESPACES,
    services: Iterable[Service] = SERVICES,
    slices: Iterable[EndpointSlice] = SLICES,
    pods: Iterable[Pod] = PODS,
    synced: bool = True,
) -> Index:
    """Put the objects into `index` as a first list would."""
    ns: list[KubeObject] = [Namespace(n) for n in namespaces]
    index.replace("Namespace", ns)
    index.replace("Service", list(services))
    index.replace("EndpointSlice", list(slices))
    index.replace("Pod", list(pods))
    if synced:
        index.mark_synced()
    return index


def config(options: str = "", zones: str = ZONES) -> KubernetesConfig:
    """Parse a kubernetes stanza with `options` inside its block."""
    text = f"kubernetes {zones} {{\n{options}\n}}" if options else f"kubernetes {zones}"
    parsed = parse_one(text, keys=".")
    assert isinstance(parsed, KubernetesConfig)
    return parsed


def handler(
    options: str = "",
    *,
    zones: str = ZONES,
    nxt: Handler | None = None,
    index: Index | None = None,
    local_ips: tuple[str, ...] = ("10.244.0.5",),
) -> Kubernetes:
    """Build the handler over the test cluster (or `index`), synced, with no watch."""
    h = Kubernetes((config(options, zones),), nxt, BuildContext(zones=(".",)))
    h.index = index if index is not None else fill(Index(clock=lambda: CLOCK))
    h.make_controller = None
    h.local_source = None
    h.local_ips = local_ips
    return h


def rows(rrs: Iterable[dnslib.RR]) -> list[Row]:
    """Return records as sorted (owner, type, ttl, data) rows, owner case kept."""
    return sorted((str(rr.rname), dnslib.QTYPE.get(rr.rtype), rr.ttl, str(rr.rdata)) for rr in rrs)


@dataclass(frozen=True)
class Expect:
    """What a reply must hold: its rcode and sections (compared as sets of rows)."""

    rcode: int
    answer: list[Row] = field(default_factory=list)
    authority: list[Row] = field(default_factory=list)
    additional: list[Row] = field(default_factory=list)
    tc: bool = False


@dataclass(frozen=True)
class Got:
    """A reply as the table tests compare it."""

    rcode: int
    aa: bool
    tc: bool
    answer: list[Row]
    authority: list[Row]
    additional: list[Row]


async def ask(h: Handler, name: str, qtype: str = "A") -> Got:
    """Send one query through `h` and return what the client got."""
    _, w = await run(h, make_request(name, qtype))
    reply = w.reply
    return Got(
        reply.header.rcode,
        bool(reply.header.aa),
        bool(reply.header.tc),
        rows(reply.rr),
        rows(reply.auth),
        rows(a for a in reply.ar if a.rtype != dnslib.QTYPE.OPT),
    )


def check(got: Got, want: Expect) -> None:
    """Assert that a reply matches: rcode, AA, TC and every section."""
    assert (got.rcode, got.aa, got.tc) == (want.rcode, True, want.tc)
    assert got.answer == sorted(want.answer)
    assert got.authority == sorted(want.authority)
    assert got.additional == sorted(want.additional)


# -- row builders ------------------------------------------------------------------------------


def soa(zone: str = "cluster.local.", ttl: int = 5, minimum: int | None = None) -> Row:
    """Return the SOA row CoreDNS puts in negative answers for `zone` (as spelled)."""
    low = minimum if minimum is not None else ttl
    mname = "ns.dns." + zone
    rname = "hostmaster." + zone
    return (zone, "SOA", min(ttl, 300), f"{mname} {rname} {CLOCK} 7200 1800 86400 {low}")


def nx(zone: str = "cluster.local.") -> Expect:
    """Return the NXDOMAIN expectation: aa, no answer, the zone's SOA."""
    return Expect(NXDOMAIN, authority=[soa(zone)])


def nodata(zone: str = "cluster.local.") -> Expect:
    """Return the NODATA expectation: NOERROR aa, no answer, the zone's SOA."""
    return Expect(NOERROR, authority=[soa(zone)])


def ok(*answer: Row, extra: Iterable[Row] = ()) -> Expect:
    """Return a positive expectation."""
    return Expect(NOERROR, list(answer), [], list(extra))


def a(owner: str, ip: str, ttl: int = 5) -> Row:
    """Return an A row (or AAAA for an IPv6 address)."""
    return (owner, "AAAA" if ":" in ip else "A", ttl, ip)


def srv(owner: str, weight: int, port: int, target: str, ttl: int = 5) -> Row:
    """Return an SRV row with CoreDNS's priority 0."""
    return (owner, "SRV", ttl, f"0 {weight} {port} {target}")


def cname(owner: str, target: str, ttl: int = 5) -> Row:
    """Return a CNAME row."""
    return (owner, "CNAME", ttl, target)


def ptr(owner: str, target: str, ttl: int = 5) -> Row:
    """Return a PTR row."""
    return (owner, "PTR", ttl, target)


def rev(ip: str) -> str:
    """Return the reverse name of an address, fully qualified."""
    return ipaddress.ip_address(ip).reverse_pointer + "."
