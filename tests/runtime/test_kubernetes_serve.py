"""kubernetes over real sockets: the project's API server serves tests/runtime/cluster/cluster.yaml,
kdns watches it through `kubeconfig` or `endpoint`, and dnspython asks over UDP and TCP.

Each case names the section of /work/shared/research/k8s-dns-spec.md it checks and its tag:
[S] spec, [T] a CoreDNS test asserts it, [C] read from CoreDNS's code, [E] e2e conformance.
One API server and one kdns per Corefile variant serve the whole module.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import pytest_asyncio

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.plugins.kubernetes.local import own_addresses
from kdns.runtime.testing import free_port, query, running

from ..plugins.k8s_kit import Row, a, cname, ptr, rev, srv

#: The servers live for the module, so the tests share its event loop.
shared_loop = pytest.mark.asyncio(loop_scope="module")

CLUSTER = Path(__file__).parent / "cluster" / "cluster.yaml"
SERVICE_CIDRS = ("10.96.0.0/12", "fd00:10:96::/112")
NOERROR, NXDOMAIN, SERVFAIL = dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL
REVERSE = "cluster.local in-addr.arpa ip6.arpa"

#: variant -> (kubernetes zones, options, another plugin of the block or "").
VARIANTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "main": (REVERSE, (), ""),
    "podnames": (REVERSE, ("endpoint_pod_names",), ""),
    "insecure": (REVERSE, ("pods insecure",), ""),
    "verified": (REVERSE, ("pods verified",), ""),
    "ttl": (REVERSE, ("ttl 3600",), ""),
    "nslist": (REVERSE, ("namespaces testns",), ""),
    "nslabels": (REVERSE, ("namespace_labels team=dns",), ""),
    "labels": (REVERSE, ("labels expose=dns", "pods verified"), ""),
    "ignore": (REVERSE, ("ignore empty_service",), ""),
    "noep": (REVERSE, ("noendpoints",), ""),
    "fallrev": (REVERSE, ("fallthrough in-addr.arpa ip6.arpa",), "whoami"),
    "fall": (REVERSE, ("fallthrough",), "whoami"),
    "cidr": (
        "cluster.local example.local 10.96.0.0/12 10.244.0.0/23 fd00:10:96::/110",
        (),
        "whoami",
    ),
}
#: Variants that find the API through a plain http `endpoint`; the others use a `kubeconfig`.
BY_ENDPOINT = frozenset({"podnames", "verified", "nslist", "labels", "noep", "fall"})


def corefile(variant: str, port: int, kubeconfig: Path, url: str) -> str:
    """One kdns: the kubernetes block, and example.net answered by hosts on the same port,
    so ExternalName targets are resolved through kdns itself."""
    zones, options, extra = VARIANTS[variant]
    connect = f"endpoint {url}" if variant in BY_ENDPOINT else f"kubeconfig {kubeconfig}"
    body = "\n".join(f"        {line}" for line in (connect, *options))
    return (
        f".:{port} {{\n    kubernetes {zones} {{\n{body}\n    }}\n    {extra}\n}}\n"
        f"example.net:{port} {{\n    hosts {{\n        198.51.100.7 www.example.net\n"
        "        2001:db8::7 www.example.net\n        ttl 300\n    }\n}\n"
    )


@dataclass(frozen=True)
class Cluster:
    """The running servers: a DNS port per variant, and this host's own addresses."""

    ports: dict[str, int]
    local: list[str]


def _coredns_here(ip: str) -> dict[str, object]:
    # A kube-dns pod at this host's address: the apex NS then names the kube-dns Service (§12).
    labels = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "coredns-here", "namespace": "kube-system", "labels": labels},
        "spec": {"containers": [{"name": "coredns", "image": "kdns"}]},
        "status": {"podIP": ip},
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """Serve the cluster and start one kdns per variant (module scope: a few seconds in all)."""
    folder = tmp_path_factory.mktemp("kubernetes")
    local = own_addresses()
    async with ApiServer([CLUSTER], poll_interval=0, service_cidrs=SERVICE_CIDRS) as api:
        v4 = [ip for ip in local if ":" not in ip]
        if v4:
            api.apply(_coredns_here(v4[0]))
        kubeconfig = write_kubeconfig(folder / "kubeconfig", api.url)
        ports: dict[str, int] = {}
        async with contextlib.AsyncExitStack() as stack:
            for variant in VARIANTS:
                port = ports[variant] = free_port()
                sub = folder / variant
                sub.mkdir()
                text = corefile(variant, port, kubeconfig, api.url)
                server = await stack.enter_async_context(running(text, sub))
                assert server.current is not None
                assert all(h.ready() for h in server.current.handlers if hasattr(h, "ready"))
            yield Cluster(ports, local)


# -- rows and expectations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a reply must hold: rcode, AA, and every section compared as a set of rows."""

    rcode: int
    answer: list[Row] = field(default_factory=list)
    authority: list[Row] = field(default_factory=list)
    additional: list[Row] = field(default_factory=list)
    aa: bool = True
    #: The query went on to whoami (fallthrough, or a name outside the plugin's zones).
    passed: bool = False


def rows(section: Iterable[dns.rrset.RRset]) -> list[Row]:
    """Return records as sorted (owner, type, ttl, data) rows, case kept, SOA serial as `*`."""
    out = []
    for rrset in section:
        for rdata in rrset:
            text = rdata.to_text()
            if rrset.rdtype == dns.rdatatype.SOA:
                f = text.split()
                text = " ".join([*f[:2], "*", *f[3:]])
            out.append((rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl, text))
    return sorted(out)


def soa(zone: str = "cluster.local.", ttl: int = 5) -> Row:
    """Return the SOA CoreDNS puts in negative answers: TTL min(ttl, 300), MINIMUM ttl (§2.3)."""
    return (zone, "SOA", min(ttl, 300), f"ns.dns.{zone} hostmaster.{zone} * 7200 1800 86400 {ttl}")


def nx(zone: str = "cluster.local.", ttl: int = 5) -> Expect:
    """NXDOMAIN aa with the zone's SOA (§2.2)."""
    return Expect(NXDOMAIN, authority=[soa(zone, ttl)])


def nodata(zone: str = "cluster.local.", ttl: int = 5) -> Expect:
    """NOERROR aa, no answer, the zone's SOA (§2.2)."""
    return Expect(NOERROR, authority=[soa(zone, ttl)])


def ok(*answer: Row, extra: Iterable[Row] = ()) -> Expect:
    """A positive answer (§2.1): nothing in authority."""
    return Expect(NOERROR, list(answer), [], list(extra))


PASSED = Expect(NOERROR, passed=True)


def rev_zone(cidr: str) -> str:
    """The reverse zone of a network on an octet or nibble boundary."""
    net = ipaddress.ip_network(cidr)
    step = 8 if net.version == 4 else 4
    labels = rev(str(net.network_address)).split(".")
    return ".".join(labels[(net.max_prefixlen - net.prefixlen) // step :])


T = "testns.svc.cluster.local."
SVC1, H1, HMAN = "svc1." + T, "hdls1." + T, "hman." + T
EP1A, TWIN, DUAL, MULTI = "ep1a.svc1." + T, "svc1-twin." + T, "dual." + T, "multi." + T
DB0, H1A, H1A6 = "db-0." + H1, "10-244-2-2." + H1, "fd00-10-244-2--81." + H1
M1, M6 = "m1." + HMAN, "2001-db8-3333-4444-5555-6666--0." + HMAN
EXT, WWW = "ext." + T, "www.example.net."
WEB, KDNS = "web.prod.svc.cluster.local.", "kube-dns.kube-system.svc.cluster.local."
INADDR, IP6 = "in-addr.arpa.", "ip6.arpa."
WWW4, WWW6 = ("www.example.net.", "A", 300, "198.51.100.7"), a(WWW, "2001:db8::7", 300)
EL = "testns.svc.example.local."
DB0_CC = "db-0.hdls1.testns.svc.Cluster.Local."  # built from objects, zone as the client wrote
H1_SRV_EXTRA = [a(DB0, "10.244.2.3"), a(DB0, "10.244.2.4"), a(DB0, "fd00:10:244:2::3"),
                a(H1A, "10.244.2.2"), a(H1A6, "fd00:10:244:2::81")]  # fmt: skip
DUAL_EXTRA = [a(DUAL, "10.96.1.3"), a(DUAL, "fd00:10:96::3")]


def pod(label: str, ns: str = "testns") -> str:
    """The pod name `<label>.<ns>.pod.cluster.local.` (§9)."""
    return f"{label}.{ns}.pod.cluster.local."


CASES: list[tuple[str, str, str, Expect]] = [
    # -- §1/§4 ClusterIP services --------------------------------------------------------------
    ("main", SVC1, "A", ok(a(SVC1, "10.96.1.1"))),  # §1.1.2 / §4 [S][T]
    ("main", SVC1, "AAAA", nodata()),  # §4 other family NODATA [T]
    ("main", "svc6." + T, "AAAA", ok(a("svc6." + T, "fd00:10:96::6"))),  # §1.1.2 IPv6 [S][T]
    ("main", "svc6." + T, "A", nodata()),  # §4 [T]
    ("main", "_http._tcp." + SVC1, "SRV",  # §1.1.2 named port, Service port, AR [S][T]
     ok(srv("_http._tcp." + SVC1, 100, 80, SVC1), extra=[a(SVC1, "10.96.1.1")])),
    ("main", SVC1, "SRV", ok(srv(SVC1, 100, 80, SVC1), extra=[a(SVC1, "10.96.1.1")])),  # §4 [T]
    ("main", MULTI, "SRV", ok(  # §4 bare SRV: every port incl. the unnamed one, weight 100/4 [T]
        srv(MULTI, 25, 80, MULTI), srv(MULTI, 25, 443, MULTI), srv(MULTI, 25, 53, MULTI),
        srv(MULTI, 25, 8080, MULTI), extra=[a(MULTI, "10.96.1.4")])),
    ("main", "_https._tcp." + MULTI, "SRV",
     ok(srv("_https._tcp." + MULTI, 100, 443, MULTI), extra=[a(MULTI, "10.96.1.4")])),  # §4 [T]
    ("main", "_dns._udp." + MULTI, "SRV",
     ok(srv("_dns._udp." + MULTI, 100, 53, MULTI), extra=[a(MULTI, "10.96.1.4")])),  # §4 [T]
    ("main", "_dns._tcp." + MULTI, "SRV", nx()),  # §4 protocol matches nothing [C]
    ("main", "_nope._tcp." + MULTI, "SRV", nx()),  # §4 port name matches nothing [C]
    ("main", "_http._tcp." + MULTI, "A", ok(a("_http._tcp." + MULTI, "10.96.1.4"))),  # §4 [C]
    ("main", "_http._tcp." + MULTI, "AAAA", nodata()),  # §14 [C]
    ("main", "_http._tcp." + MULTI, "TXT", nodata()),  # §14 [C]
    ("main", "noports." + T, "A", ok(a("noports." + T, "10.96.1.5"))),  # §4 no ports: A [C]
    ("main", "noports." + T, "SRV", nodata()),  # §4 no ports at all: NODATA [C]
    ("main", "empty." + T, "A", ok(a("empty." + T, "10.96.1.6"))),  # §7 no endpoints [T]
    ("main", "lb." + T, "A", ok(a("lb." + T, "10.96.1.7"))),  # §4 LoadBalancer [C]
    ("main", "np." + T, "A", ok(a("np." + T, "10.96.1.8"))),  # §4 NodePort [C]
    ("main", DUAL, "A", ok(a(DUAL, "10.96.1.3"))),  # §8 dual-stack [T]
    ("main", DUAL, "AAAA", ok(a(DUAL, "fd00:10:96::3"))),  # §8 [T]
    ("main", DUAL, "SRV", ok(srv(DUAL, 50, 80, DUAL), extra=DUAL_EXTRA)),  # §8 one SRV 50 [T]
    ("main", "_http._tcp." + DUAL, "SRV",
     ok(srv("_http._tcp." + DUAL, 50, 80, DUAL), extra=DUAL_EXTRA)),  # §8 [T]
    ("main", WEB, "A", ok(a(WEB, "10.96.10.10"))),  # §4 [T]
    ("main", "svc1.other.svc.cluster.local.", "A",
     ok(a("svc1.other.svc.cluster.local.", "10.96.2.1"))),  # §3 the namespace decides [T]
    ("main", "kubernetes.default.svc.cluster.local.", "A",
     ok(a("kubernetes.default.svc.cluster.local.", "10.96.0.1"))),  # §21 [E]
    ("main", SVC1, "TXT", nodata()),  # §14 [T]
    ("main", SVC1, "MX", nodata()),  # §14 [T]
    ("main", SVC1, "CNAME", nodata()),  # §14 [T]
    ("main", SVC1, "PTR", nodata()),  # §14 [C]
    ("main", SVC1, "HINFO", nodata()),  # §14 [T]
    ("main", SVC1, "NS", nodata()),  # §12 NS below the apex, existing name [T]
    ("main", SVC1, "SOA", nodata()),  # §12 SOA below the apex [T]
    ("main", SVC1, "ANY", nodata()),  # §14 [C]
    ("main", SVC1, "NAPTR", nodata()),  # §14 other types [C]
    # -- §4 endpoint names under a ClusterIP service --------------------------------------------
    ("main", EP1A, "A", ok(a(EP1A, "10.244.1.1"))),  # §4 / §10 hostname [T][E]
    ("main", "10-244-1-2.svc1." + T, "A",
     ok(a("10-244-1-2.svc1." + T, "10.244.1.2"))),  # §4 dashed IPv4 [T]
    ("main", "10-244-1-1." + TWIN, "A",
     ok(a("10-244-1-1." + TWIN, "10.244.1.1"))),  # §10 hostname only under its subdomain [E]
    ("main", "svc1-b.svc1." + T, "A", nx()),  # §10 pod names need endpoint_pod_names [T]
    ("main", "10-244-1-99.svc1." + T, "A", nx()),  # §7 not ready: no name [C]
    ("main", "down.svc1." + T, "A", nx()),  # §7 [C]
    ("main", "nosuch.svc1." + T, "A", nx()),  # §4 [T]
    ("main", EP1A, "AAAA", nodata()),  # §14 endpoint name, other family [C]
    ("main", EP1A, "SRV",
     ok(srv(EP1A, 100, 8080, EP1A), extra=[a(EP1A, "10.244.1.1")])),  # §4 slice port [C]
    ("main", EP1A, "TXT", nodata()),  # §14 [C]
    # -- §5 headless services ------------------------------------------------------------------
    ("main", H1, "A", ok(a(H1, "10.244.2.2"), a(H1, "10.244.2.3"), a(H1, "10.244.2.4"))),  # §5
    ("main", H1, "AAAA", ok(a(H1, "fd00:10:244:2::81"), a(H1, "fd00:10:244:2::3"))),  # §5 §8 [T]
    ("main", DB0, "A", ok(a(DB0, "10.244.2.3"), a(DB0, "10.244.2.4"))),  # §5 one A per IP [T]
    ("main", DB0, "AAAA", ok(a(DB0, "fd00:10:244:2::3"))),  # §8 the name in both families [C]
    ("main", H1A, "A", ok(a(H1A, "10.244.2.2"))),  # §5 dashed IPv4 [T]
    ("main", H1A6, "AAAA", ok(a(H1A6, "fd00:10:244:2::81"))),  # §5 dashed IPv6 [T]
    ("main", M6, "AAAA", ok(a(M6, "2001:db8:3333:4444:5555:6666::"))),  # §5 trailing -0 [T]
    ("main", "2001-db8-3333-4444-5555-6666--." + HMAN, "AAAA", nx()),  # §5 [T]
    ("main", "down." + H1, "A", nx()),  # §7 not ready: no endpoint name [C]
    ("main", "hdls1-a." + H1, "A", nx()),  # §10 pod names off by default [T]
    ("main", "_http._tcp." + H1, "SRV", ok(  # §5 5 entries, 3 targets, weight 20, port 8080 [T]
        srv("_http._tcp." + H1, 20, 8080, DB0), srv("_http._tcp." + H1, 20, 8080, H1A),
        srv("_http._tcp." + H1, 20, 8080, H1A6), extra=H1_SRV_EXTRA)),
    ("main", H1, "SRV", ok(srv(H1, 20, 8080, DB0), srv(H1, 20, 8080, H1A),  # §5 bare SRV [T]
                           srv(H1, 20, 8080, H1A6), extra=H1_SRV_EXTRA)),
    ("main", DB0, "SRV", ok(srv(DB0, 33, 8080, DB0), extra=[  # §5 3 entries, one target [T]
        a(DB0, "10.244.2.3"), a(DB0, "10.244.2.4"), a(DB0, "fd00:10:244:2::3")])),
    ("main", "_http._udp." + H1, "SRV", nx()),  # §5 no such port [C]
    ("main", "_http._tcp." + H1, "A", ok(a("_http._tcp." + H1, "10.244.2.2"),
                                         a("_http._tcp." + H1, "10.244.2.3"),
                                         a("_http._tcp." + H1, "10.244.2.4"))),  # §14 [C]
    ("main", H1, "TXT", nodata()),  # §13 TXT at an existing service [T]
    ("main", H1, "CNAME", nodata()),  # §14 [C]
    ("main", H1, "MX", nodata()),  # §14 [T]
    ("main", HMAN, "A", ok(a(HMAN, "10.244.5.1"))),  # §5 duplicates removed, FQDN slice ignored
    ("main", HMAN, "AAAA", ok(a(HMAN, "2001:db8:3333:4444:5555:6666::"))),  # §7 unset = ready
    ("main", M1, "A", ok(a(M1, "10.244.5.1"))),  # §5 hand-made slices work [C]
    ("main", "_http._tcp." + HMAN, "SRV", ok(  # §5 3 entries, 2 distinct targets [T]
        srv("_http._tcp." + HMAN, 33, 8080, M1), srv("_http._tcp." + HMAN, 33, 8080, M6),
        extra=[a(M1, "10.244.5.1"), a(M6, "2001:db8:3333:4444:5555:6666::")])),
    ("main", "hdls4." + T, "SRV", ok(  # §5 bare SRV lists unnamed ports [T]
        srv("hdls4." + T, 50, 9000, "10-244-4-1.hdls4." + T),
        srv("hdls4." + T, 50, 9000, "10-244-4-2.hdls4." + T),
        extra=[a("10-244-4-1.hdls4." + T, "10.244.4.1"),
               a("10-244-4-2.hdls4." + T, "10.244.4.2")])),
    ("main", "_http._tcp.hdls4." + T, "SRV", nx()),  # §1.1.3 unnamed ports have no SRV [S]
    ("main", "hdls4." + T, "AAAA", nodata()),  # §5 ready, none of the family: NODATA [C]
    ("main", "hdls-noports." + T, "A", ok(a("hdls-noports." + T, "10.244.6.1"))),  # §5 [T]
    ("main", "hdls-noports." + T, "SRV", nodata()),  # §5 port-less entries dropped [T]
    ("main", "hdls-down." + T, "A", nx()),  # §5 no ready endpoints: NXDOMAIN [S][C]
    ("main", "hdls-down." + T, "AAAA", nx()),  # §14 [C]
    ("main", "hdls-down." + T, "SRV", nx()),  # §14 [C]
    ("main", "hdls-down." + T, "TXT", nx()),  # §14 [C]
    ("main", "hdls-down." + T, "SOA", nodata()),  # §14 SOA: NODATA [C]
    ("main", "hdls-none." + T, "A", nx()),  # §1.1.3 selects no pod [S]
    ("main", "hpub." + T, "A", ok(a("hpub." + T, "10.244.8.1"))),  # §7 publishNotReadyAddresses
    ("main", "pub-0.hpub." + T, "A", ok(a("pub-0.hpub." + T, "10.244.8.1"))),  # §7 [C]
    # -- §6 ExternalName ------------------------------------------------------------------------
    ("main", EXT, "CNAME", ok(cname(EXT, WWW))),  # §6 [T][E]
    ("main", EXT, "A", ok(cname(EXT, WWW), WWW4)),  # §1.1.4 target through kdns, its TTL [S][T]
    ("main", EXT, "AAAA", ok(cname(EXT, WWW), WWW6)),  # §1.1.4 [S][T]
    ("main", "ext-dot." + T, "CNAME", ok(cname("ext-dot." + T, WWW))),  # §6 [T]
    ("main", "ext-nx." + T, "A",
     ok(cname("ext-nx." + T, "nosuch.example.net."))),  # §6 upstream rcode dropped [C]
    ("main", EXT, "TXT", nodata()),  # §6 [C]
    ("main", EXT, "SRV", nodata()),  # §6 [C]
    ("main", EXT, "MX", nodata()),  # §6 [C]
    ("main", "_http._tcp." + EXT, "SRV", nx()),  # §6 [T]
    ("main", "www." + EXT, "A", nx()),  # §6 [T]
    ("main", "ext-in." + T, "A",
     ok(cname("ext-in." + T, "svc1.testns.svc.cluster.local."), a(SVC1, "10.96.1.1"))),  # §6 [T]
    ("main", "ext-in." + T, "AAAA", nodata()),  # §6 in-zone target lacks the type [C]
    ("main", "ext-chain." + T, "A", ok(  # §6 chains are followed, then out of the zone [C]
        cname("ext-chain." + T, EXT), cname(EXT, WWW), WWW4)),
    ("main", "ext-missing." + T, "A", nodata()),  # §6 in-zone target missing [C]
    ("main", "ext-missing." + T, "CNAME",
     ok(cname("ext-missing." + T, "nosuch.testns.svc.cluster.local."))),  # §6 [C]
    ("main", "ext-self." + T, "A", nodata()),  # §6 a CNAME to itself is suppressed [C]
    ("main", "loop-a." + T, "A", nodata()),  # §6 a loop ends [C]
    ("main", "ext-ip." + T, "A", nx()),  # §6 an IP externalName is ignored [C]
    ("main", "ext-ip." + T, "CNAME", nx()),  # §6 [C]
    # -- §9 pods: disabled, insecure, verified --------------------------------------------------
    ("main", pod("10-244-1-1"), "A", nx()),  # §9 disabled [T]
    ("main", "testns.pod.cluster.local.", "A", nx()),  # §9 disabled [C]
    ("main", "pod.cluster.local.", "A", nodata()),  # §9 / §13 [T]
    ("insecure", pod("10-244-1-1"), "A", ok(a(pod("10-244-1-1"), "10.244.1.1"))),  # §9 [T]
    ("insecure", pod("10-244-1-10"), "A",
     ok(a(pod("10-244-1-10"), "10.244.1.10"))),  # §9 no pod check [T]
    ("insecure", pod("fd00-10-244-4--7", "prod"), "AAAA",
     ok(a(pod("fd00-10-244-4--7", "prod"), "fd00:10:244:4::7"))),  # §9 IPv6 [T]
    ("insecure", pod("10-244-1-1"), "AAAA", nodata()),  # §9 other family [C]
    ("insecure", pod("not-an-ip"), "A", nx()),  # §9 [T]
    ("insecure", pod("10-244-1-1", "nons"), "A", nx()),  # §3 the namespace must exist [T]
    ("insecure", "testns.pod.cluster.local.", "A", nodata()),  # §9 [T]
    ("insecure", "x." + pod("10-244-1-1"), "A",
     ok(a("x." + pod("10-244-1-1"), "10.244.1.1"))),  # §9 extra labels quirk [C]
    ("insecure", "a.b.c." + pod("10-244-1-1"), "A", nx()),  # §9 three extra labels [C]
    ("insecure", "10-244-1-1.TestNS.POD.cluster.local.", "A",
     ok(a("10-244-1-1.TestNS.POD.cluster.local.", "10.244.1.1"))),  # §2.5 [T]
    ("verified", pod("10-244-1-1"), "A", ok(a(pod("10-244-1-1"), "10.244.1.1"))),  # §9 [T]
    ("verified", pod("10-244-1-10", "prod"), "A",
     ok(a(pod("10-244-1-10", "prod"), "10.244.1.10"))),  # §9 [T]
    ("verified", pod("10-244-1-10"), "A", nx()),  # §9 no such pod in that namespace [T]
    ("verified", pod("fd00-10-244-4--7", "prod"), "AAAA",
     ok(a(pod("fd00-10-244-4--7", "prod"), "fd00:10:244:4::7"))),  # §9 [T]
    ("verified", pod("10-244-9-8", "prod"), "A", nx()),  # §9 Succeeded pods not watched [C]
    ("verified", pod("fd00-10-244-2--81"), "AAAA", nx()),  # §9 a secondary pod IP [C]
    ("verified", pod("1-2-3-4"), "A", nx()),  # §9 [T]
    ("verified", "testns.pod.cluster.local.", "A", nodata()),  # §9 [T]
    ("verified", "x." + pod("10-244-1-10", "prod"), "A",
     ok(a("x." + pod("10-244-1-10", "prod"), "10.244.1.10"))),  # §9 quirk [C]
    ("main", rev("10.244.9.8"), "PTR", nx(INADDR)),  # §9 no PTR for pods as such [T]
    # -- §10 endpoint_pod_names -----------------------------------------------------------------
    ("podnames", "svc1-b.svc1." + T, "A", ok(a("svc1-b.svc1." + T, "10.244.1.2"))),  # §10 [T]
    ("podnames", "10-244-1-2.svc1." + T, "A", nx()),  # §10 the dashed name goes [T][C]
    ("podnames", EP1A, "A", ok(a(EP1A, "10.244.1.1"))),  # §10 hostname first [T]
    ("podnames", "hdls1-a." + H1, "AAAA",
     ok(a("hdls1-a." + H1, "fd00:10:244:2::81"))),  # §10 [T]
    ("podnames", "hdls4." + T, "SRV", ok(  # §10 a 64-character pod name is not used [T]
        srv("hdls4." + T, 50, 9000, "10-244-4-1.hdls4." + T),
        srv("hdls4." + T, 50, 9000, "hdls4-b.hdls4." + T),
        extra=[a("10-244-4-1.hdls4." + T, "10.244.4.1"), a("hdls4-b.hdls4." + T, "10.244.4.2")])),
    ("podnames", rev("10.244.1.2"), "PTR", ok(  # §10 / §16 PTR targets follow [C]
        ptr(rev("10.244.1.2"), "svc1-b.svc1." + T), ptr(rev("10.244.1.2"), "svc1-b." + TWIN))),
    # -- §11 dns-version ------------------------------------------------------------------------
    ("main", "dns-version.cluster.local.", "TXT",
     ok(("dns-version.cluster.local.", "TXT", 28800, '"1.1.0"'))),  # §1.1.1 / §11 [S][T]
    ("main", "DNS-Version.cluster.local.", "TXT",
     ok(("DNS-Version.cluster.local.", "TXT", 28800, '"1.1.0"'))),  # §11 case [T]
    ("main", "dns-version.cluster.local.", "A", nx()),  # §11 [C]
    ("main", "x.dns-version.cluster.local.", "TXT", nx()),  # §11 [C]
    ("ttl", "dns-version.cluster.local.", "TXT",
     ok(("dns-version.cluster.local.", "TXT", 28800, '"1.1.0"'))),  # §11 ttl does not apply [T]
    # -- §12 the apex ---------------------------------------------------------------------------
    ("main", "cluster.local.", "SOA", ok(soa())),  # §12 / §2.3 [T]
    ("main", "cluster.local.", "A", nodata()),  # §12 [T]
    ("main", "cluster.local.", "SRV", nodata()),  # §12 [T]
    ("main", "cluster.local.", "TXT", nx()),  # §12 TXT at the apex quirk [C]
    ("main", "svc.cluster.local.", "NS", nodata()),  # §12 NS below the apex, existing [T]
    ("main", "testns.svc.cluster.local.", "NS", nodata()),  # §12 [T]
    ("main", "nosuch." + T, "NS", nx()),  # §12 missing name [T]
    ("main", "nosuch." + T, "SOA", nodata()),  # §12 SOA never checks existence [T][C]
    ("main", "ns.dns.CLUSTER.local.", "A", nx("CLUSTER.local.")),  # §12 spelling quirk [C]
    ("main", "ns.dns.cluster.local.", "SRV", nodata()),  # §12 [C]
    ("main", "ns.dns.cluster.local.", "TXT", nx()),  # §12 / §11 [C]
    # -- §13 odd names --------------------------------------------------------------------------
    ("main", "svc.cluster.local.", "A", nodata()),  # §13 [T]
    ("main", "testns.svc.cluster.local.", "A", nodata()),  # §13 existing namespace [T]
    ("main", "nons.svc.cluster.local.", "A", nx()),  # §13 unknown namespace [C]
    ("main", "svc1.nons.svc.cluster.local.", "A", nx()),  # §13 [T]
    ("main", "nosuch." + T, "A", nx()),  # §13 unknown service [T]
    ("main", "nosuch." + T, "AAAA", nx()),  # §14 [T]
    ("main", "nosuch." + T, "SRV", nx()),  # §14 [T]
    ("main", "nosuch." + T, "TXT", nx()),  # §14 [T]
    ("main", "nosuch." + T, "PTR", nx()),  # §14 [T]
    ("main", "nosuch." + T, "MX", nx()),  # §14 [T]
    ("main", "a.b.c." + SVC1, "A", nx()),  # §3 three extra labels [T]
    ("main", "foo.cluster.local.", "A", nx()),  # §3 last label not svc/pod [T]
    ("main", "web.prod.cluster.local.", "A", nx()),  # §13 [T]
    ("main", "*." + SVC1, "A", nx()),  # §3 wildcards gone since 1.9.0 [C]
    ("main", "any." + T, "A", nx()),  # §13 [C]
    ("main", "svc1.*.svc.cluster.local.", "A", nx()),  # §3 [C]
    ("main", "svc.cluster.local.", "TXT", nx()),  # §13 TXT at a non-leaf name [C]
    ("main", "testns.svc.cluster.local.", "TXT", nx()),  # §13 [C]
    ("main", "http.tcp." + SVC1, "SRV",
     ok(srv("http.tcp." + SVC1, 100, 80, SVC1), extra=[a(SVC1, "10.96.1.1")])),  # §3 `_` optional
    ("main", "_http.tcp." + SVC1, "SRV",
     ok(srv("_http.tcp." + SVC1, 100, 80, SVC1), extra=[a(SVC1, "10.96.1.1")])),  # §3 [C]
    ("main", "svc1.testns.svc.0.10.in-addr.arpa.", "PTR", nx(INADDR)),  # §13 [T]
    ("main", "kubernetes.default.svc.cluster.local.testns.svc.cluster.local.", "A", nx()),  # §13
    ("main", "kubernetes.default.testns.svc.cluster.local.", "A", nx()),  # §13 [C][E]
    ("main", "kubernetes.default.svc.cluster.local.cluster.local.", "A", nx()),  # §13 [C][E]
    ("main", "foo.example.org.", "A", Expect(SERVFAIL, aa=False)),  # §13 outside: no next [C]
    ("main", "www.example.net.", "A", ok(WWW4)),  # the other block answers its zone
    # -- §2.5 case ------------------------------------------------------------------------------
    ("main", "_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL.", "SRV", ok(  # §2.5 [T]
        srv("_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL.", 100, 80, "svc1.testns.svc.cLuStEr.LoCaL."),
        extra=[a("svc1.testns.svc.cLuStEr.LoCaL.", "10.96.1.1")])),
    ("main", "SVC1.TestNS.svc.cluster.local.", "A",
     ok(a("SVC1.TestNS.svc.cluster.local.", "10.96.1.1"))),  # §2.5 [T]
    ("main", "Nosuch.Prod.Svc.CLUSTER.local.", "A", nx("CLUSTER.local.")),  # §2.2 [T]
    ("main", "Svc.CLUSTER.local.", "A", nodata("CLUSTER.local.")),  # §2.2 [T]
    ("main", "CLUSTER.local.", "SOA", ok(soa("CLUSTER.local."))),  # §2.2 [T]
    ("main", "DB-0.Hdls1.testns.svc.Cluster.Local.", "SRV", ok(  # §2.5 built names [T]
        srv("DB-0.Hdls1.testns.svc.Cluster.Local.", 33, 8080, DB0_CC),
        extra=[a(DB0_CC, "10.244.2.3"), a(DB0_CC, "10.244.2.4"), a(DB0_CC, "fd00:10:244:2::3")])),
    ("main", "EXT.testns.svc.cluster.local.", "CNAME",
     ok(cname("EXT.testns.svc.cluster.local.", WWW))),  # §2.5 [T]
    ("main", "Ext.TestNS.svc.cluster.local.", "A",
     ok(cname("Ext.TestNS.svc.cluster.local.", WWW), WWW4)),  # §2.5 / §6 [T]
    ("main", "Ext-In.TestNS.svc.CLUSTER.local.", "A", ok(  # §2.5 / §6 chased in zone [T]
        cname("Ext-In.TestNS.svc.CLUSTER.local.", "svc1.testns.svc.cluster.local."),
        a(SVC1, "10.96.1.1"))),
    # -- §15 options ----------------------------------------------------------------------------
    ("nslist", SVC1, "A", ok(a(SVC1, "10.96.1.1"))),  # §15 namespaces [T]
    ("nslist", WEB, "A", nx()),  # §15 namespace not listed [T]
    ("nslist", "prod.svc.cluster.local.", "A", nx()),  # §13 not exposed [C]
    ("nslist", rev("10.96.10.10"), "PTR", nx(INADDR)),  # §15 namespaces filters PTRs [C]
    ("nslist", rev("10.244.1.10"), "PTR", nx(INADDR)),  # §15 [C]
    ("nslist", rev("10.96.1.1"), "PTR", ok(ptr(rev("10.96.1.1"), SVC1))),  # §15 [C]
    ("nslabels", SVC1, "A", ok(a(SVC1, "10.96.1.1"))),  # §15 namespace_labels [T]
    ("nslabels", WEB, "A", nx()),  # §15 unlabelled namespace "does not exist" [T]
    ("nslabels", KDNS, "A", nx()),  # §15 [T]
    ("nslabels", rev("10.96.10.10"), "PTR", ok(ptr(rev("10.96.10.10"), WEB))),  # §15 not PTR [C]
    ("labels", SVC1, "A", ok(a(SVC1, "10.96.1.1"))),  # §15 labels [T]
    ("labels", EP1A, "A", ok(a(EP1A, "10.244.1.1"))),  # §15 slices inherit the labels [C]
    ("labels", H1, "A", ok(a(H1, "10.244.2.2"), a(H1, "10.244.2.3"), a(H1, "10.244.2.4"))),
    ("labels", MULTI, "A", nx()),  # §15 unlabelled Service does not exist [T]
    ("labels", WEB, "A", nx()),  # §15 [T]
    ("labels", rev("10.244.1.1"), "PTR", ok(ptr(rev("10.244.1.1"), EP1A))),  # §15 [C]
    ("labels", rev("10.96.1.11"), "PTR", nx(INADDR)),  # §15 [C]
    ("labels", pod("10-244-1-1"), "A", ok(a(pod("10-244-1-1"), "10.244.1.1"))),  # §15 labelled
    ("labels", pod("10-244-1-2"), "A", nx()),  # §15 unlabelled pods do not exist [C]
    ("ignore", "empty." + T, "A", nx()),  # §7 / §15 ignore empty_service [T]
    ("ignore", "empty." + T, "SRV", nx()),  # §15 [T]
    ("ignore", rev("10.96.1.6"), "PTR", ok(ptr(rev("10.96.1.6"), "empty." + T))),  # §7 PTR [T]
    ("ignore", "multi." + T, "A", nx()),  # §15 no slices at all [T]
    ("ignore", SVC1, "A", ok(a(SVC1, "10.96.1.1"))),  # §15 ready endpoints: answered [T]
    ("ignore", EXT, "CNAME", ok(cname(EXT, WWW))),  # §15 only ClusterIP services [C]
    ("ignore", H1, "AAAA",
     ok(a(H1, "fd00:10:244:2::81"), a(H1, "fd00:10:244:2::3"))),  # §15 headless unaffected [C]
    ("noep", SVC1, "A", ok(a(SVC1, "10.96.1.1"))),  # §15 noendpoints: ClusterIP unaffected
    ("noep", "_http._tcp." + SVC1, "SRV",
     ok(srv("_http._tcp." + SVC1, 100, 80, SVC1), extra=[a(SVC1, "10.96.1.1")])),  # §15
    ("noep", H1, "A", nx()),  # §15 headless names NXDOMAIN [C]
    ("noep", EP1A, "A", nx()),  # §15 endpoint names [C]
    ("noep", rev("10.244.1.1"), "PTR", nx(INADDR)),  # §15 endpoint PTRs [C]
    ("noep", rev("10.96.1.1"), "PTR", ok(ptr(rev("10.96.1.1"), SVC1))),  # §15 [C]
    ("ttl", SVC1, "A", ok(a(SVC1, "10.96.1.1", 3600))),  # §2.4 ttl [T]
    ("ttl", "nosuch." + T, "A", nx(ttl=3600)),  # §2.3 SOA TTL capped at 300 [T]
    ("ttl", "cluster.local.", "SOA", ok(soa(ttl=3600))),  # §2.3 [T]
    ("ttl", "_http._tcp." + SVC1, "SRV", ok(srv("_http._tcp." + SVC1, 100, 80, SVC1, 3600),
                                            extra=[a(SVC1, "10.96.1.1", 3600)])),  # §2.4 [T]
    ("ttl", EXT, "A", ok(cname(EXT, WWW, 3600), WWW4)),  # §2.4 upstream keeps its TTL [T]
    ("ttl", rev("10.96.1.1"), "PTR", ok(ptr(rev("10.96.1.1"), SVC1, 3600))),  # §2.4 [T]
    ("fallrev", rev("10.1.2.3"), "PTR", PASSED),  # §15 / §16 fallthrough in-addr.arpa [C]
    ("fallrev", rev("fd00::1"), "PTR", PASSED),  # §16 ip6.arpa [C]
    ("fallrev", "1.96.10.in-addr.arpa.", "PTR", PASSED),  # §16 partial name falls too [C]
    ("fallrev", rev("10.96.1.1"), "PTR", ok(ptr(rev("10.96.1.1"), SVC1))),  # §16 [T]
    ("fallrev", "nosuch." + T, "A", nx()),  # §15 zone not listed: NXDOMAIN [C]
    ("fall", "nosuch." + T, "A", PASSED),  # §15 fallthrough [C]
    ("fall", "hdls-down." + T, "A", PASSED),  # §15 [C]
    ("fall", "foo.cluster.local.", "A", PASSED),  # §15 [C]
    ("fall", SVC1, "AAAA", nodata()),  # §15 never applies to NODATA [C]
    ("fall", "foo.example.org.", "A", PASSED),  # §13 outside every zone: next plugin [C]
    # -- §16 reverse zones ----------------------------------------------------------------------
    ("main", rev("10.96.1.1"), "PTR", ok(ptr(rev("10.96.1.1"), SVC1))),  # §1.1.2 [S][T]
    ("main", rev("fd00:10:96::6"), "PTR",
     ok(ptr(rev("fd00:10:96::6"), "svc6." + T))),  # §1.1.2 ip6.arpa nibbles [S][T]
    ("main", rev("10.96.1.3"), "PTR", ok(ptr(rev("10.96.1.3"), DUAL))),  # §8 each IP [C]
    ("main", rev("fd00:10:96::3"), "PTR", ok(ptr(rev("fd00:10:96::3"), DUAL))),  # §8 [C]
    ("main", rev("10.96.0.10"), "PTR", ok(ptr(rev("10.96.0.10"), KDNS))),  # §16 [T]
    ("main", rev("10.244.1.1"), "PTR", ok(  # §16 an IP of two Services: two PTRs [T]
        ptr(rev("10.244.1.1"), EP1A), ptr(rev("10.244.1.1"), "10-244-1-1." + TWIN))),
    ("main", rev("10.244.2.3"), "PTR", ok(ptr(rev("10.244.2.3"), DB0))),  # §1.1.3 [S]
    ("main", rev("fd00:10:244:2::81"), "PTR",
     ok(ptr(rev("fd00:10:244:2::81"), H1A6))),  # §1.1.3 / §5 [S][T]
    ("main", rev("10.244.5.1"), "PTR", ok(ptr(rev("10.244.5.1"), M1))),  # §16 two slices: one
    ("main", rev("10.244.1.99"), "PTR", nx(INADDR)),  # §7 not ready [C]
    ("main", rev("10.244.5.77"), "PTR", nx(INADDR)),  # §7 a slice of no Service [C]
    ("main", rev("10.1.2.3"), "PTR", nx(INADDR)),  # §16 [T]
    ("main", rev("fd00::1"), "PTR", nx(IP6)),  # §16 [T]
    ("main", "1.96.10.in-addr.arpa.", "PTR", nx(INADDR)),  # §16 partial names [C]
    ("main", rev("10.96.1.1"), "A", nx(INADDR)),  # §16 non-PTR types [C]
    ("main", "3.2.1.10.IN-ADDR.ARPA.", "PTR", nx("IN-ADDR.ARPA.")),  # §2.2 SOA as asked [T]
    ("main", "1.1.96.10.IN-ADDR.ARPA.", "PTR",
     ok(ptr("1.1.96.10.IN-ADDR.ARPA.", SVC1))),  # §2.5 owner as asked [T]
    ("cidr", rev("10.96.1.1"), "PTR", ok(ptr(rev("10.96.1.1"), SVC1))),  # §16 /12: 16 zones [C]
    ("cidr", rev("10.97.0.1"), "PTR", nx("97.10.in-addr.arpa.")),  # §16 the zone's SOA [T][C]
    ("cidr", rev("10.95.0.1"), "PTR", PASSED),  # §16 outside the zones: next plugin [C]
    ("cidr", rev("10.244.1.1"), "PTR", ok(
        ptr(rev("10.244.1.1"), EP1A), ptr(rev("10.244.1.1"), "10-244-1-1." + TWIN))),  # §16 /23
    ("cidr", rev("10.244.1.50"), "PTR", nx("1.244.10.in-addr.arpa.")),  # §16 [C]
    ("cidr", rev("10.244.2.3"), "PTR", PASSED),  # §16 [C]
    ("cidr", rev("fd00:10:96::6"), "PTR", ok(ptr(rev("fd00:10:96::6"), "svc6." + T))),  # §16
    ("cidr", rev("fd00:10:96::1:5"), "PTR", nx(rev_zone("fd00:10:96::1:0/112"))),  # §16 /110 [C]
    ("cidr", rev("fd00:10:96::4:1"), "PTR", PASSED),  # §16 [C]
    ("cidr", "svc1." + EL, "A", ok(a("svc1." + EL, "10.96.1.1"))),  # §15 every zone answers
    ("cidr", "_http._tcp.svc1." + EL, "SRV", ok(srv("_http._tcp.svc1." + EL, 100, 80, "svc1." + EL),
                                                extra=[a("svc1." + EL, "10.96.1.1")])),  # §15
    ("cidr", "nosuch." + EL, "A", nx("example.local.")),  # §2.2 the matched zone's SOA [T]
    ("cidr", "dns-version.example.local.", "TXT",
     ok(("dns-version.example.local.", "TXT", 28800, '"1.1.0"'))),  # §11 [T]
]  # fmt: skip


def check(reply: dns.message.Message, name: str, want: Expect) -> None:
    """Assert that a reply matches: rcode, AA, no RA, and every section."""
    assert reply.rcode() == want.rcode, dns.rcode.to_text(reply.rcode())
    assert bool(reply.flags & dns.flags.AA) == want.aa
    assert not reply.flags & dns.flags.RA  # §2.1 no recursion claimed [C]
    assert reply.question[0].name.to_text() == name  # the question as asked, case kept
    if want.passed:  # whoami answered: the client's address in additional, nothing else
        assert rows(reply.answer) == rows(reply.authority) == []
        assert (name, "A", 0, "127.0.0.1") in rows(reply.additional)
        return
    assert rows(reply.answer) == sorted(want.answer)
    assert rows(reply.authority) == sorted(want.authority)
    assert rows(reply.additional) == sorted(want.additional)


@shared_loop
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    ("variant", "name", "qtype", "want"), CASES, ids=[f"{v} {n} {t}" for v, n, t, _ in CASES]
)
async def test_answers(
    cluster: Cluster, variant: str, name: str, qtype: str, want: Expect, tcp: bool
) -> None:
    reply = await query(cluster.ports[variant], name, qtype, tcp=tcp)
    check(reply, name, want)


@shared_loop
async def test_apex_ns_names_the_kube_dns_service(cluster: Cluster) -> None:
    """§12 [T]: the server is an endpoint of kube-dns, so NS names that Service with glue."""
    if not [ip for ip in cluster.local if ":" not in ip]:
        pytest.skip("this host has no non-loopback IPv4 address to be a kube-dns endpoint")
    port = cluster.ports["main"]
    z, ns = "cluster.local.", "ns.dns.cluster.local."
    check(await query(port, z, "NS"), z, ok((z, "NS", 5, KDNS), extra=[a(KDNS, "10.96.0.10")]))
    check(await query(port, ns, "A", tcp=True), ns, ok(a(ns, "10.96.0.10")))
    check(await query(port, ns, "AAAA"), ns, nodata())  # §12 other family [T]
    upper = "CLUSTER.local."
    check(await query(port, upper, "NS"), upper, nodata(upper))  # §12 NS compares spelling [C]


@shared_loop
async def test_apex_ns_without_endpoints_lists_own_addresses(cluster: Cluster) -> None:
    """§12 / §15 noendpoints [T]: NS falls back to ns.dns.<zone>, glue = the server's addresses."""
    port = cluster.ports["noep"]
    z, ns = "cluster.local.", "ns.dns.cluster.local."
    glue = [a(ns, ip) for ip in cluster.local]
    if glue:
        check(await query(port, z, "NS"), z, ok((z, "NS", 5, ns), extra=glue))
    else:
        check(await query(port, z, "NS"), z, nodata())
    v4 = [row for row in glue if row[1] == "A"]
    check(await query(port, ns, "A"), ns, ok(*v4) if v4 else nodata())


def test_table_covers_the_digest() -> None:
    # The table is the contract with the digest: it keeps its breadth and every variant.
    assert len(CASES) >= 150
    assert {v for v, *_ in CASES} == set(VARIANTS)
    assert all(t in {q for _, _, q, _ in CASES} for t in ("A", "AAAA", "SRV", "PTR", "TXT",
                                                         "CNAME", "SOA", "NS", "MX"))  # fmt: skip
