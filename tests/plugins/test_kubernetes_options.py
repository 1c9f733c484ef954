"""kubernetes answers under each option, for pods and for reverse names (spec digest §9-§16).

Each case names the section of /work/shared/research/k8s-dns-spec.md it checks and its tag:
[S] spec, [T] a CoreDNS test asserts it, [C] read from CoreDNS's code.
"""

from __future__ import annotations

import pytest

from kdns.plugins.kubernetes.index import Index

from .k8s_kit import (
    CLOCK,
    NAMESPACES,
    SERVICES,
    Expect,
    a,
    ask,
    check,
    fill,
    handler,
    nodata,
    nx,
    ok,
    ptr,
    rev,
    soa,
    srv,
)

T = "testns.svc.cluster.local."
SVC1 = "svc1." + T
H1 = "hdls1." + T
ARPA = "in-addr.arpa."
ARPA6 = "ip6.arpa."
P = "prod.pod.cluster.local."

# (options, query name, qtype, expectation)
OPTION_CASES = [
    # -- reverse zones (§16) --------------------------------------------------------------------
    ("", rev("10.0.0.1"), "PTR", ok(ptr(rev("10.0.0.1"), SVC1))),  # §4 / §16 ClusterIP [T][E]
    ("", rev("10.0.0.3"), "PTR", ok(ptr(rev("10.0.0.3"), "dual." + T))),  # §8 [C]
    ("", rev("fd00::3"), "PTR", ok(ptr(rev("fd00::3"), "dual." + T))),  # §8 each IP [C]
    ("", rev("1234:abcd::1"), "PTR", ok(ptr(rev("1234:abcd::1"), "svc6." + T))),  # §1.1 [S]
    ("", rev("10.96.0.10"), "PTR",
     ok(ptr(rev("10.96.0.10"), "kube-dns.kube-system.svc.cluster.local."))),  # §16 [T]
    ("", rev("172.0.0.1"), "PTR", ok(ptr(rev("172.0.0.1"), "ep1a." + SVC1))),  # §16 2 slices [T]
    ("", rev("172.0.0.2"), "PTR", ok(ptr(rev("172.0.0.2"), "172-0-0-2." + SVC1),
                                     ptr(rev("172.0.0.2"), "172-0-0-2." + H1))),  # §16 [T]
    ("", rev("172.0.0.3"), "PTR", ok(ptr(rev("172.0.0.3"), "db-0." + H1))),  # §5 [S][T]
    ("", rev("fd00:10:244:2::81"), "PTR",
     ok(ptr(rev("fd00:10:244:2::81"), "fd00-10-244-2--81." + H1))),  # §5 / §16 [T]
    ("", rev("172.0.0.99"), "PTR", nx(ARPA)),  # §7 not-ready endpoints: no PTR [C]
    ("", rev("172.0.0.5"), "PTR", nx(ARPA)),  # §7 [C]
    ("", rev("172.0.0.77"), "PTR", nx(ARPA)),  # §7 unlabelled slice [C]
    ("", rev("10.244.1.10"), "PTR", nx(ARPA)),  # §9 pods get no PTR [T]
    ("", rev("10.9.9.9"), "PTR", nx(ARPA)),  # §16 no match: the reverse zone's SOA [T]
    ("", rev("fd00::99"), "PTR", nx(ARPA6)),  # §16 [T]
    ("", "0.10.in-addr.arpa.", "PTR", nx(ARPA)),  # §16 partial names [C]
    ("", "3.0.0.0.ip6.arpa.", "PTR", nx(ARPA6)),  # §16 [C]
    ("", rev("10.0.0.1"), "A", nx(ARPA)),  # §16 non-PTR types [C]
    ("", rev("10.0.0.1"), "TXT", nx(ARPA)),  # §16 [C]
    ("", "svc1.testns.svc.0.10.in-addr.arpa.", "A", nx(ARPA)),  # §13 [T]
    ("", "in-addr.arpa.", "SOA", ok(soa(ARPA))),  # §2.2 reverse zone SOA [T]
    ("", "1.0.0.10.IN-ADDR.arpa.", "PTR", ok(ptr("1.0.0.10.IN-ADDR.arpa.", SVC1))),  # §2.5 [T]
    ("", "9.9.9.10.IN-ADDR.arpa.", "PTR", nx("IN-ADDR.arpa.")),  # §2.2 spelling [T]
    # a Service whose namespace is gone still has its PTR unless `namespaces` says no (§15 [C])
    ("", rev("10.0.9.9"), "PTR", ok(ptr(rev("10.0.9.9"), "svc.ghost.svc.cluster.local."))),
    # -- pods disabled (default) (§9) ----------------------------------------------------------
    ("", "10-244-1-10." + P, "A", nx()),  # §9 [T]
    ("", "prod.pod.cluster.local.", "A", nx()),  # §9 [C]
    ("", "pod.cluster.local.", "A", nodata()),  # §9 [T]
    # -- pods insecure (§9) ----------------------------------------------------------------------
    ("pods insecure", "10-244-1-10." + P, "A", ok(a("10-244-1-10." + P, "10.244.1.10"))),  # [T]
    ("pods insecure", "1-2-3-4." + P, "A", ok(a("1-2-3-4." + P, "1.2.3.4"))),  # no check [T]
    ("pods insecure", "1-2-3-4." + P, "AAAA", nodata()),  # §9 other family [C]
    ("pods insecure", "fd00-10-244-4--7." + P, "AAAA",
     ok(a("fd00-10-244-4--7." + P, "fd00:10:244:4::7"))),  # §9 dashed IPv6 [T]
    ("pods insecure", "not-an-ip." + P, "A", nx()),  # §9 [T]
    ("pods insecure", "1-2-3-4-5." + P, "A", nx()),  # §9 four dashes read as IPv6 [C]
    ("pods insecure", "10-244-1-10.nons.pod.cluster.local.", "A", nx()),  # §9 ns must exist [T]
    ("pods insecure", "prod.pod.cluster.local.", "A", nodata()),  # §9 [T]
    ("pods insecure", "pod.cluster.local.", "A", nodata()),  # §13 [T]
    ("pods insecure", "x.10-244-1-10." + P, "A", ok(a("x.10-244-1-10." + P, "10.244.1.10"))),  # §9
    ("pods insecure", "_a._b.10-244-1-10." + P, "A",
     ok(a("_a._b.10-244-1-10." + P, "10.244.1.10"))),  # §9 extra-labels quirk [C]
    ("pods insecure", "a.b.c.10-244-1-10." + P, "A", nx()),  # §9 three extra labels [C]
    ("pods insecure", "10-244-1-10." + P, "TXT", nodata()),  # §14 existing name [C]
    ("pods insecure", "10-244-1-10.Prod.POD.cluster.local.", "A",
     ok(a("10-244-1-10.Prod.POD.cluster.local.", "10.244.1.10"))),  # §3 case [T]
    # -- pods verified (§9) ----------------------------------------------------------------------
    ("pods verified", "10-244-1-10." + P, "A", ok(a("10-244-1-10." + P, "10.244.1.10"))),  # [T]
    ("pods verified", "10-244-1-10.testns.pod.cluster.local.", "A", nx()),  # other ns [T]
    ("pods verified", "10-244-9-9.testns.pod.cluster.local.", "A",
     ok(a("10-244-9-9.testns.pod.cluster.local.", "10.244.9.9"))),  # §9 [T]
    ("pods verified", "1-2-3-4." + P, "A", nx()),  # §9 no such pod [T]
    ("pods verified", "fd00-10-244-4--7." + P, "AAAA",
     ok(a("fd00-10-244-4--7." + P, "fd00:10:244:4::7"))),  # §9 [T]
    ("pods verified", "fd00-10-244-4-0-0-0-7." + P, "AAAA", nx()),  # §9 canonical text only [C]
    ("pods verified", "10-244-1-10." + P, "AAAA", nodata()),  # §9 [C]
    ("pods verified", "prod.pod.cluster.local.", "A", nodata()),  # §9 [T]
    ("pods verified", "x.10-244-1-10." + P, "A", ok(a("x.10-244-1-10." + P, "10.244.1.10"))),
    # -- namespaces (§15) ------------------------------------------------------------------------
    ("namespaces testns", SVC1, "A", ok(a(SVC1, "10.0.0.1"))),  # §15 [T]
    ("namespaces testns", "web.prod.svc.cluster.local.", "A", nx()),  # §15 [T]
    ("namespaces testns", "prod.svc.cluster.local.", "A", nx()),  # §13 not exposed [C]
    ("namespaces testns", "testns.svc.cluster.local.", "A", nodata()),  # §13 [T]
    ("namespaces testns", rev("10.96.10.10"), "PTR", nx(ARPA)),  # §15 filters PTRs [C]
    ("namespaces testns", rev("10.0.0.1"), "PTR", ok(ptr(rev("10.0.0.1"), SVC1))),  # §15 [C]
    ("namespaces testns", rev("10.0.9.9"), "PTR", nx(ARPA)),  # §15 listed and existing [C]
    ("namespaces testns", rev("172.0.0.3"), "PTR", ok(ptr(rev("172.0.0.3"), "db-0." + H1))),
    ("namespaces prod", "10-244-1-10." + P, "A", nx()),  # §9 + §15 pods off anyway [T]
    ("namespaces prod\npods insecure", "10-244-1-10.testns.pod.cluster.local.", "A", nx()),
    # -- endpoint_pod_names (§10) ----------------------------------------------------------------
    ("endpoint_pod_names", "svc1-pod-2." + SVC1, "A",
     ok(a("svc1-pod-2." + SVC1, "172.0.0.2"))),  # §10 [T]
    ("endpoint_pod_names", "172-0-0-2." + SVC1, "A", nx()),  # §10 dashed name gone [T]
    ("endpoint_pod_names", "ep1a." + SVC1, "A", ok(a("ep1a." + SVC1, "172.0.0.1"))),  # hostname
    ("endpoint_pod_names", "hdls1-pod-a." + H1, "A", ok(a("hdls1-pod-a." + H1, "172.0.0.2"))),
    ("endpoint_pod_names", "hdls4-b.hdls4." + T, "A",
     ok(a("hdls4-b.hdls4." + T, "10.244.5.2"))),  # §10 [T]
    ("endpoint_pod_names", "10-244-5-2.hdls4." + T, "A", nx()),  # §10 [T]
    ("endpoint_pod_names", "10-244-5-1.hdls4." + T, "A",
     ok(a("10-244-5-1.hdls4." + T, "10.244.5.1"))),  # §10 pod name of 64+ chars unused [T]
    ("endpoint_pod_names", rev("172.0.0.2"), "PTR",
     ok(ptr(rev("172.0.0.2"), "svc1-pod-2." + SVC1),
        ptr(rev("172.0.0.2"), "hdls1-pod-a." + H1))),  # §10 PTR targets [C]
    ("endpoint_pod_names", "hdls4." + T, "SRV", ok(
        srv("hdls4." + T, 50, 9000, "10-244-5-1.hdls4." + T),
        srv("hdls4." + T, 50, 9000, "hdls4-b.hdls4." + T),
        extra=[a("10-244-5-1.hdls4." + T, "10.244.5.1"),
               a("hdls4-b.hdls4." + T, "10.244.5.2")])),  # §10 SRV targets [C]
    # -- ttl (§2.3, §2.4) ------------------------------------------------------------------------
    ("ttl 30", SVC1, "A", ok(a(SVC1, "10.0.0.1", 30))),  # §2.4 [T]
    ("ttl 30", "nosuch." + T, "A", Expect(3, authority=[soa(ttl=30)])),  # §2.3 [T]
    ("ttl 30", "_http._tcp." + SVC1, "SRV", ok(srv("_http._tcp." + SVC1, 100, 80, SVC1, 30),
                                               extra=[a(SVC1, "10.0.0.1", 30)])),  # §2.4 [T]
    ("ttl 30", "dns-version.cluster.local.", "TXT",
     ok(("dns-version.cluster.local.", "TXT", 28800, '"1.1.0"'))),  # §11 fixed TTL [T]
    ("ttl 3600", "nosuch." + T, "A", Expect(3, authority=[soa(ttl=3600)])),  # §2.3 cap 300 [T]
    ("ttl 3600", "cluster.local.", "SOA", ok(soa(ttl=3600))),  # §2.3 [T]
    ("ttl 3600", SVC1, "A", ok(a(SVC1, "10.0.0.1", 3600))),  # §2.4 [T]
    ("ttl 0", SVC1, "A", ok(a(SVC1, "10.0.0.1", 0))),  # §2.4 [T]
    ("ttl 0", "svc1." + T, "AAAA", Expect(0, authority=[soa(ttl=0)])),  # §2.3 [T]
    ("ttl 30", rev("10.0.0.1"), "PTR", ok(ptr(rev("10.0.0.1"), SVC1, 30))),  # §2.4 [T]
    ("ttl 30", "ep1a." + SVC1, "A", ok(a("ep1a." + SVC1, "172.0.0.1", 30))),  # §2.4 [T]
    # -- noendpoints (§15) ----------------------------------------------------------------------
    ("noendpoints", SVC1, "A", ok(a(SVC1, "10.0.0.1"))),  # §15 ClusterIP unaffected [C]
    ("noendpoints", H1, "A", nx()),  # §15 headless names gone [C]
    ("noendpoints", "ep1a." + SVC1, "A", nx()),  # §15 endpoint names gone [C]
    ("noendpoints", rev("172.0.0.3"), "PTR", nx(ARPA)),  # §15 endpoint PTRs gone [C]
    ("noendpoints", rev("10.0.0.1"), "PTR", ok(ptr(rev("10.0.0.1"), SVC1))),  # §15 [C]
    ("noendpoints", "cluster.local.", "NS", ok(  # §15 NS falls back to ns.dns [C]
        ("cluster.local.", "NS", 5, "ns.dns.cluster.local."),
        extra=[a("ns.dns.cluster.local.", "10.244.0.5")])),
    # -- ignore empty_service (§7, §15) ---------------------------------------------------------
    ("ignore empty_service", "empty." + T, "A", nx()),  # §7 [T]
    ("ignore empty_service", "empty." + T, "SRV", nx()),  # §7 [T]
    ("ignore empty_service", "empty." + T, "TXT", nx()),  # §7 [C]
    ("ignore empty_service", "svc6." + T, "AAAA", nx()),  # §7 no slices at all [T]
    ("ignore empty_service", SVC1, "A", ok(a(SVC1, "10.0.0.1"))),  # §7 has ready eps [T]
    ("ignore empty_service", rev("10.0.0.6"), "PTR",
     ok(ptr(rev("10.0.0.6"), "empty." + T))),  # §7 PTR still answered [T]
    ("ignore empty_service", H1, "A", ok(a(H1, "172.0.0.2"), a(H1, "172.0.0.3"),
                                         a(H1, "172.0.0.4"))),  # §15 headless unaffected
    ("ignore empty_service", "ext." + T, "CNAME",
     ok(("ext." + T, "CNAME", 5, "ext.example.com."))),  # §15 ExternalName unaffected [C]
    ("ignore", "empty." + T, "A", ok(a("empty." + T, "10.0.0.6"))),  # §15 bare ignore [C]
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "name", "qtype", "want"),
    OPTION_CASES,
    ids=[f"{o.replace(chr(10), ';') or 'defaults'}: {n} {t}" for o, n, t, _ in OPTION_CASES],
)
async def test_option_answers(options: str, name: str, qtype: str, want: Expect) -> None:
    check(await ask(handler(options), name, qtype), want)


# -- zones: CIDRs, several forward zones, the primary zone (§15, §16) ---------------------------

ZONE_CASES = [
    # (zones, query, qtype, expectation)
    ("cluster.local 10.0.0.0/24", rev("10.0.0.1"), "PTR", ok(ptr(rev("10.0.0.1"), SVC1))),  # §16
    ("cluster.local 10.0.0.0/24", rev("10.0.0.77"), "PTR", nx("0.0.10.in-addr.arpa.")),  # §16
    ("cluster.local 10.0.0.0/24", "0.0.10.in-addr.arpa.", "SOA",
     ok(soa("0.0.10.in-addr.arpa."))),  # §16 a CIDR zone is a zone [C]
    ("cluster.local cluster2.local", "svc1.testns.svc.cluster2.local.", "A",
     ok(a("svc1.testns.svc.cluster2.local.", "10.0.0.1"))),  # §15 every forward zone [T]
    ("cluster.local cluster2.local", "nosuch.testns.svc.cluster2.local.", "A",
     nx("cluster2.local.")),  # §2.2 the matched zone's SOA [T]
    ("cluster.local cluster2.local", "_http._tcp.svc1.testns.svc.cluster2.local.", "SRV", ok(
        srv("_http._tcp.svc1.testns.svc.cluster2.local.", 100, 80,
            "svc1.testns.svc.cluster2.local."),
        extra=[a("svc1.testns.svc.cluster2.local.", "10.0.0.1")])),  # §2.5 built in its zone
    ("in-addr.arpa cluster2.local cluster.local", rev("10.0.0.1"), "PTR",
     ok(ptr(rev("10.0.0.1"), "svc1.testns.svc.cluster2.local."))),  # §15 primary zone [T]
]  # fmt: skip


@pytest.mark.parametrize(("zones", "name", "qtype", "want"), ZONE_CASES)
async def test_zone_answers(zones: str, name: str, qtype: str, want: Expect) -> None:
    check(await ask(handler(zones=zones), name, qtype), want)


# -- namespace_labels: the watch drops unmatched namespaces from the index (§15) ----------------

LABELLED = [
    ("web.prod.svc.cluster.local.", "A", nx()),  # §15 namespace "does not exist" [T]
    ("prod.svc.cluster.local.", "A", nx()),  # §13 [C]
    (SVC1, "A", ok(a(SVC1, "10.0.0.1"))),  # §15 [T]
    (rev("10.96.10.10"), "PTR",
     ok(ptr(rev("10.96.10.10"), "web.prod.svc.cluster.local."))),  # §15 PTR not filtered [C]
]  # fmt: skip


@pytest.mark.parametrize(("name", "qtype", "want"), LABELLED)
async def test_namespace_labels(name: str, qtype: str, want: Expect) -> None:
    index = fill(Index(clock=lambda: CLOCK), namespaces=[n for n in NAMESPACES if n != "prod"])
    check(await ask(handler("namespace_labels team=a", index=index), name, qtype), want)


# -- the apex NS and ns.dns with other server addresses (§12) ------------------------------------

NS_CASES = [
    # (the server's addresses, query, qtype, expectation)
    (("10.9.9.9",), "cluster.local.", "NS", ok(  # §12 not an endpoint: ns.dns [T]
        ("cluster.local.", "NS", 5, "ns.dns.cluster.local."),
        extra=[a("ns.dns.cluster.local.", "10.9.9.9")])),
    (("10.9.9.9", "fd00::9"), "cluster.local.", "NS", ok(  # §12 glue of both families [T]
        ("cluster.local.", "NS", 5, "ns.dns.cluster.local."),
        extra=[a("ns.dns.cluster.local.", "10.9.9.9"), a("ns.dns.cluster.local.", "fd00::9")])),
    (("10.9.9.9", "fd00::9"), "ns.dns.cluster.local.", "AAAA",
     ok(a("ns.dns.cluster.local.", "fd00::9"))),  # §12 [T]
    (("10.9.9.9",), "ns.dns.cluster.local.", "A", ok(a("ns.dns.cluster.local.", "10.9.9.9"))),
    (("10.9.9.9",), "ns.dns.cluster.local.", "AAAA", nodata()),  # §12 [T]
    ((), "cluster.local.", "NS", nodata()),  # §12 no address known: nothing to name [C]
    (("10.244.0.6",), "ns.dns.cluster.local.", "A",
     ok(a("ns.dns.cluster.local.", "10.96.0.10"))),  # §12 the kube-dns ClusterIP [T]
]  # fmt: skip


@pytest.mark.parametrize(("local", "name", "qtype", "want"), NS_CASES)
async def test_ns(local: tuple[str, ...], name: str, qtype: str, want: Expect) -> None:
    check(await ask(handler(local_ips=local), name, qtype), want)


async def test_ns_of_a_headless_service_names_its_endpoints() -> None:
    # §12: a headless Service contributes <endpoint-name>.<svc>.<ns>.svc.<zone> names [T]
    services = [s for s in SERVICES if s.name != "kube-dns"]
    services.append(type(SERVICES[0])("kube-system", "kube-dns", "Headless"))
    index = fill(Index(clock=lambda: CLOCK), services=services)
    got = await ask(handler(index=index), "cluster.local.", "NS")
    k = "kube-dns.kube-system.svc.cluster.local."
    want = ok(
        ("cluster.local.", "NS", 5, "10-244-0-5." + k),
        ("cluster.local.", "NS", 5, "10-244-0-6." + k),
        extra=[a("10-244-0-5." + k, "10.244.0.5"), a("10-244-0-6." + k, "10.244.0.6")],
    )
    check(got, want)


def test_enough_cases() -> None:
    # Together with test_kubernetes_answers.py these tables specify the plugin.
    assert len(OPTION_CASES) + len(ZONE_CASES) + len(LABELLED) + len(NS_CASES) >= 100
