"""kubernetes answers: every name kind × query type, as CoreDNS answers (spec digest §2-§14).

Each case names the section of /work/shared/research/k8s-dns-spec.md it checks and its tag:
[S] spec, [T] a CoreDNS test asserts it, [C] read from CoreDNS's code.
"""

from __future__ import annotations

import pytest

from .k8s_kit import Expect, a, ask, check, cname, handler, nodata, nx, ok, soa, srv

T = "testns.svc.cluster.local."
K = "kube-system.svc.cluster.local."
SVC1 = "svc1." + T
H1 = "hdls1." + T

CASES = [
    # -- ClusterIP services --------------------------------------------------------------------
    ("svc1." + T, "A", ok(a(SVC1, "10.0.0.1"))),  # §4 [T]
    ("svc1." + T, "AAAA", nodata()),  # §4 other family NODATA [T]
    ("svc6." + T, "AAAA", ok(a("svc6." + T, "1234:abcd::1"))),  # §4 [T]
    ("svc6." + T, "A", nodata()),  # §4 [T]
    ("_http._tcp.svc1." + T, "SRV", ok(srv("_http._tcp." + SVC1, 100, 80, SVC1),
                                      extra=[a(SVC1, "10.0.0.1")])),  # §4 SRV + AR [T]
    ("svc1." + T, "SRV", ok(srv(SVC1, 100, 80, SVC1), extra=[a(SVC1, "10.0.0.1")])),  # §4 bare [T]
    ("multi." + T, "SRV", ok(  # §4 bare SRV: every port incl. unnamed, weight floor(100/4) [T]
        srv("multi." + T, 25, 80, "multi." + T),
        srv("multi." + T, 25, 443, "multi." + T),
        srv("multi." + T, 25, 53, "multi." + T),
        srv("multi." + T, 25, 8080, "multi." + T),
        extra=[a("multi." + T, "10.0.0.4")])),
    ("_https._tcp.multi." + T, "SRV", ok(srv("_https._tcp.multi." + T, 100, 443, "multi." + T),
                                         extra=[a("multi." + T, "10.0.0.4")])),  # §4 [T]
    ("_dns._udp.multi." + T, "SRV", ok(srv("_dns._udp.multi." + T, 100, 53, "multi." + T),
                                       extra=[a("multi." + T, "10.0.0.4")])),  # §4 [T]
    ("_dns._tcp.multi." + T, "SRV", nx()),  # §4 protocol matches nothing: NXDOMAIN [C]
    ("_nope._tcp.multi." + T, "SRV", nx()),  # §4 port matches nothing: NXDOMAIN [C]
    ("_http._tcp.multi." + T, "A", ok(a("_http._tcp.multi." + T, "10.0.0.4"))),  # §4 [C]
    ("_http._tcp.multi." + T, "AAAA", nodata()),  # §14 `_p._proto.svc` AAAA [C]
    ("_nope._tcp.multi." + T, "A", nx()),  # §4 [C]
    ("_http._tcp.multi." + T, "TXT", nodata()),  # §14 [C]
    ("noports." + T, "A", ok(a("noports." + T, "10.0.0.5"))),  # §4 no ports: A still [C]
    ("noports." + T, "SRV", nodata()),  # §4 no ports at all: NODATA [C]
    ("_http._tcp.noports." + T, "SRV", nx()),  # §4 [C]
    ("empty." + T, "A", ok(a("empty." + T, "10.0.0.6"))),  # §7 no ready endpoints: still [T]
    ("dual." + T, "A", ok(a("dual." + T, "10.0.0.3"))),  # §8 [T]
    ("dual." + T, "AAAA", ok(a("dual." + T, "fd00::3"))),  # §8 [T]
    ("dual." + T, "SRV", ok(srv("dual." + T, 50, 80, "dual." + T),  # §8 one SRV 50 [T]
                            extra=[a("dual." + T, "10.0.0.3"), a("dual." + T, "fd00::3")])),
    ("_http._tcp.dual." + T, "SRV", ok(srv("_http._tcp.dual." + T, 50, 80, "dual." + T),
                                       extra=[a("dual." + T, "10.0.0.3"),
                                              a("dual." + T, "fd00::3")])),  # §8 [T]
    ("web.prod.svc.cluster.local.", "A",
     ok(a("web.prod.svc.cluster.local.", "10.96.10.10"))),  # §4 [T]
    ("svc1.other.svc.cluster.local.", "A",
     ok(a("svc1.other.svc.cluster.local.", "10.0.1.1"))),  # §3 namespace decides [T]
    # -- the other query types at a ClusterIP service (§14) -----------------------------------
    ("svc1." + T, "TXT", nodata()),  # §14 [T]
    ("svc1." + T, "MX", nodata()),  # §14 [T]
    ("svc1." + T, "CNAME", nodata()),  # §14 [T]
    ("svc1." + T, "PTR", nodata()),  # §14 [C]
    ("svc1." + T, "HINFO", nodata()),  # §14 [T]
    ("svc1." + T, "ANY", nodata()),  # §14 [C]
    ("svc1." + T, "NS", nodata()),  # §12 NS below the apex, existing name [T]
    ("svc1." + T, "SOA", nodata()),  # §12 SOA below the apex [T]
    ("svc1." + T, "NAPTR", nodata()),  # §14 other types [C]
    ("svc1." + T, "DS", nodata()),  # §14 other types [C]
    # -- endpoint names under a ClusterIP service (§4) ----------------------------------------
    ("ep1a.svc1." + T, "A", ok(a("ep1a.svc1." + T, "172.0.0.1"))),  # §4 hostname; 2 slices [T]
    ("172-0-0-2.svc1." + T, "A", ok(a("172-0-0-2.svc1." + T, "172.0.0.2"))),  # §4 dashed IP [T]
    ("svc1-pod-2.svc1." + T, "A", nx()),  # §10 pod names only with endpoint_pod_names [T]
    ("172-0-0-99.svc1." + T, "A", nx()),  # §7 not-ready endpoints have no name [C]
    ("nosuch.svc1." + T, "A", nx()),  # §4 [T]
    ("ep1a.svc1." + T, "AAAA", nodata()),  # §14 endpoint name, other family [C]
    ("ep1a.svc1." + T, "SRV", ok(  # §4 slice ports; N=2 entries before de-dup -> 50 [C]
        srv("ep1a.svc1." + T, 50, 8080, "ep1a.svc1." + T),
        extra=[a("ep1a.svc1." + T, "172.0.0.1")])),
    ("ep1a.svc1." + T, "TXT", nodata()),  # §14 [C]
    ("ep1a.svc1." + T, "CNAME", nodata()),  # §14 [C]
    # -- headless services (§5) ---------------------------------------------------------------
    (H1, "A", ok(a(H1, "172.0.0.2"), a(H1, "172.0.0.3"), a(H1, "172.0.0.4"))),  # §5 ready [T]
    (H1, "AAAA", ok(a(H1, "fd00:10:244:2::81"), a(H1, "2001:db8:3333:4444:5555:6666::"),
                    a(H1, "fd00:10:244:2::3"))),  # §5 / §8 [T]
    ("db-0." + H1, "A", ok(a("db-0." + H1, "172.0.0.3"), a("db-0." + H1, "172.0.0.4"))),  # §5
    ("db-0." + H1, "AAAA", ok(a("db-0." + H1, "fd00:10:244:2::3"))),  # §8 dual-stack name [C]
    ("172-0-0-2." + H1, "A", ok(a("172-0-0-2." + H1, "172.0.0.2"))),  # §5 dashed IPv4 [T]
    ("fd00-10-244-2--81." + H1, "AAAA",
     ok(a("fd00-10-244-2--81." + H1, "fd00:10:244:2::81"))),  # §5 dashed IPv6 [T]
    ("2001-db8-3333-4444-5555-6666--0." + H1, "AAAA",
     ok(a("2001-db8-3333-4444-5555-6666--0." + H1, "2001:db8:3333:4444:5555:6666::"))),  # §5 [T]
    ("2001-db8-3333-4444-5555-6666--." + H1, "AAAA", nx()),  # §5 trailing `-` gets a 0 [T]
    ("down." + H1, "A", nx()),  # §7 not ready: no endpoint name [C]
    ("hdls1-pod-a." + H1, "A", nx()),  # §10 pod names off by default [T]
    ("db-0." + H1, "SRV", ok(  # §5 one target, N=3 entries -> weight 33 [T]
        srv("db-0." + H1, 33, 8080, "db-0." + H1),
        extra=[a("db-0." + H1, "172.0.0.3"), a("db-0." + H1, "172.0.0.4"),
               a("db-0." + H1, "fd00:10:244:2::3")])),
    ("_http._tcp." + H1, "SRV", ok(  # §5 6 entries, 4 targets, weight 16, slice port 8080 [T]
        srv("_http._tcp." + H1, 16, 8080, "172-0-0-2." + H1),
        srv("_http._tcp." + H1, 16, 8080, "db-0." + H1),
        srv("_http._tcp." + H1, 16, 8080, "fd00-10-244-2--81." + H1),
        srv("_http._tcp." + H1, 16, 8080, "2001-db8-3333-4444-5555-6666--0." + H1),
        extra=[a("172-0-0-2." + H1, "172.0.0.2"), a("db-0." + H1, "172.0.0.3"),
               a("db-0." + H1, "172.0.0.4"), a("db-0." + H1, "fd00:10:244:2::3"),
               a("fd00-10-244-2--81." + H1, "fd00:10:244:2::81"),
               a("2001-db8-3333-4444-5555-6666--0." + H1, "2001:db8:3333:4444:5555:6666::")])),
    ("_http._udp." + H1, "SRV", nx()),  # §5 no matching port [C]
    ("_http._tcp." + H1, "A", ok(a("_http._tcp." + H1, "172.0.0.2"),
                                 a("_http._tcp." + H1, "172.0.0.3"),
                                 a("_http._tcp." + H1, "172.0.0.4"))),  # §14 [C]
    (H1, "CNAME", nodata()),  # §14 [C]
    (H1, "TXT", nodata()),  # §13 TXT at an existing service [T]
    (H1, "MX", nodata()),  # §14 [T]
    ("hdls4." + T, "AAAA", nodata()),  # §5 ready endpoints, none of the family: NODATA [C]
    ("hdls4." + T, "SRV", ok(  # §5 bare SRV lists unnamed ports [T]
        srv("hdls4." + T, 50, 9000, "10-244-5-1.hdls4." + T),
        srv("hdls4." + T, 50, 9000, "10-244-5-2.hdls4." + T),
        extra=[a("10-244-5-1.hdls4." + T, "10.244.5.1"),
               a("10-244-5-2.hdls4." + T, "10.244.5.2")])),
    ("_http._tcp.hdls4." + T, "SRV", nx()),  # §5 [C]
    ("hdls-noports." + T, "A", ok(a("hdls-noports." + T, "10.244.6.1"))),  # §5 [T]
    ("hdls-noports." + T, "SRV", nodata()),  # §5 port-less entries dropped [T]
    ("hdls-down." + T, "A", nx()),  # §5 no ready endpoints: NXDOMAIN [S][C]
    ("hdls-down." + T, "AAAA", nx()),  # §14 [C]
    ("hdls-down." + T, "SRV", nx()),  # §14 [C]
    ("hdls-down." + T, "TXT", nx()),  # §14 [C]
    ("hdls-down." + T, "CNAME", nx()),  # §14 [C]
    ("hdls-down." + T, "MX", nx()),  # §14 [C]
    ("hdls-down." + T, "PTR", nx()),  # §14 [C]
    ("hdls-down." + T, "SOA", nodata()),  # §14 SOA: NODATA [C]
    ("hdls-none." + T, "A", nx()),  # §5 headless without slices [S]
    # -- ExternalName services (§6): CNAME and in-zone chasing ---------------------------------
    ("ext." + T, "CNAME", ok(cname("ext." + T, "ext.example.com."))),  # §6 [T][E]
    ("ext-dot." + T, "CNAME", ok(cname("ext-dot." + T, "ext.example.com."))),  # §6 [T]
    ("ext." + T, "TXT", nodata()),  # §6 [C]
    ("ext." + T, "SRV", nodata()),  # §6 [C]
    ("ext." + T, "MX", nodata()),  # §6 [C]
    ("ext." + T, "PTR", nodata()),  # §14 [C]
    ("_http._tcp.ext." + T, "SRV", nx()),  # §6 [T]
    ("_http._tcp.ext." + T, "A", nx()),  # §6 [T]
    ("www.ext." + T, "A", nx()),  # §6 [T]
    ("ext-in." + T, "A", ok(cname("ext-in." + T, SVC1), a(SVC1, "10.0.0.1"))),  # §6 [T]
    ("ext-in." + T, "AAAA", nodata()),  # §6 in-zone target lacks the type: CNAME dropped [C]
    ("ext-in." + T, "CNAME", ok(cname("ext-in." + T, SVC1))),  # §6 [T]
    ("ext-missing." + T, "A", nodata()),  # §6 in-zone target missing: CNAME dropped [C]
    ("ext-missing." + T, "CNAME",
     ok(cname("ext-missing." + T, "nosuch.testns.svc.cluster.local."))),  # §6 [C]
    ("ext-self." + T, "A", nodata()),  # §6 CNAME to itself suppressed [C]
    ("ext-below." + T, "A", nodata()),  # §6 CNAME below itself suppressed [C]
    ("loop-a." + T, "A", nodata()),  # §6 a CNAME loop ends in nothing [C]
    ("ext-ip." + T, "A", nx()),  # §6 an IP externalName is ignored [C]
    ("ext-ip." + T, "CNAME", nx()),  # §6 [C]
    # -- names, namespaces, wildcards (§3, §13) -------------------------------------------------
    ("svc.cluster.local.", "A", nodata()),  # §13 [T]
    ("pod.cluster.local.", "A", nodata()),  # §13 / §9 disabled [T]
    ("testns.svc.cluster.local.", "A", nodata()),  # §13 existing namespace [T]
    ("testns.svc.cluster.local.", "SRV", nodata()),  # §13 [C]
    ("nons.svc.cluster.local.", "A", nx()),  # §13 unknown namespace [C]
    ("svc1.nons.svc.cluster.local.", "A", nx()),  # §13 [T]
    ("svc.ghost.svc.cluster.local.", "A", nx()),  # §3 a namespace must exist [T]
    ("nosuch." + T, "A", nx()),  # §13 unknown service in a known namespace [T]
    ("nosuch." + T, "AAAA", nx()),  # §14 [T]
    ("nosuch." + T, "SRV", nx()),  # §14 [T]
    ("nosuch." + T, "CNAME", nx()),  # §14 [T]
    ("nosuch." + T, "TXT", nx()),  # §14 [T]
    ("nosuch." + T, "PTR", nx()),  # §14 [T]
    ("nosuch." + T, "MX", nx()),  # §14 [T]
    ("nosuch." + T, "NS", nx()),  # §12 NS below the apex, missing name [T]
    ("nosuch." + T, "SOA", nodata()),  # §12 SOA never checks existence [T][C]
    ("nosuch." + T, "HINFO", nx()),  # §14 [T]
    ("a.b.c.svc1." + T, "A", nx()),  # §3 3+ extra labels [T]
    ("x._http._tcp.svc1." + T, "SRV", nx()),  # §3 3+ extra labels [T]
    ("foo.cluster.local.", "A", nx()),  # §3 last label not svc/pod [T]
    ("web.prod.cluster.local.", "A", nx()),  # §13 [T]
    ("dns.cluster.local.", "A", nx()),  # §3 [C]
    ("*.svc1." + T, "A", nx()),  # §3 wildcards gone since 1.9.0 [C]
    ("*." + T, "A", nx()),  # §3 [C]
    ("any." + T, "A", nx()),  # §13 [C]
    ("svc1.*.svc.cluster.local.", "A", nx()),  # §3 [C]
    ("http.tcp.svc1." + T, "SRV", ok(srv("http.tcp." + SVC1, 100, 80, SVC1),
                                     extra=[a(SVC1, "10.0.0.1")])),  # §3 underscores optional
    ("_http.tcp.svc1." + T, "SRV", ok(srv("_http.tcp." + SVC1, 100, 80, SVC1),
                                      extra=[a(SVC1, "10.0.0.1")])),  # §3 [C]
    # search-path candidates must be NXDOMAIN for the walk to go on (§13 [C][E])
    ("kubernetes.default.svc.cluster.local.testns.svc.cluster.local.", "A", nx()),
    ("kubernetes.default.testns.svc.cluster.local.", "A", nx()),
    ("kubernetes.default.svc.cluster.local.cluster.local.", "A", nx()),
    ("svc1.testns.svc.cluster.local.cluster.local.", "AAAA", nx()),
    # -- dns-version (§11) ----------------------------------------------------------------------
    ("dns-version.cluster.local.", "TXT",
     ok(("dns-version.cluster.local.", "TXT", 28800, '"1.1.0"'))),  # §11 [T]
    ("DNS-Version.cluster.local.", "TXT",
     ok(("DNS-Version.cluster.local.", "TXT", 28800, '"1.1.0"'))),  # §11 case-insensitive [T]
    ("dns-version.cluster.local.", "A", nx()),  # §11 [C]
    ("dns-version.cluster.local.", "SRV", nx()),  # §11 [C]
    ("x.dns-version.cluster.local.", "TXT", nx()),  # §11 [C]
    # -- the apex and ns.dns (§12) --------------------------------------------------------------
    ("cluster.local.", "SOA", ok(soa())),  # §12 [T]
    ("cluster.local.", "A", nodata()),  # §12 [T]
    ("cluster.local.", "AAAA", nodata()),  # §12 [T]
    ("cluster.local.", "SRV", nodata()),  # §12 [T]
    ("cluster.local.", "HINFO", nodata()),  # §12 [T]
    ("cluster.local.", "MX", nodata()),  # §12 [T]
    ("cluster.local.", "TXT", nx()),  # §12 TXT at the apex: NXDOMAIN quirk [C]
    ("svc.cluster.local.", "TXT", nx()),  # §13 TXT at a non-leaf name [C]
    ("testns.svc.cluster.local.", "TXT", nx()),  # §13 [C]
    ("svc.cluster.local.", "NS", nodata()),  # §12 NS below the apex, existing [T]
    ("testns.svc.cluster.local.", "NS", nodata()),  # §12 [T]
    ("svc.cluster.local.", "SOA", nodata()),  # §12 [T]
    ("ns.dns.cluster.local.", "A", ok(a("ns.dns.cluster.local.", "10.96.0.10"))),  # §12 [T]
    ("ns.dns.cluster.local.", "AAAA", nodata()),  # §12 other family [T]
    ("ns.dns.cluster.local.", "SRV", nodata()),  # §12 [C]
    ("ns.dns.cluster.local.", "TXT", nx()),  # §12 / §11 [C]
    ("ns.dns.CLUSTER.local.", "A", nx("CLUSTER.local.")),  # §12 spelling quirk [C]
    ("cluster.local.", "NS", ok(  # §12 the server is an endpoint of kube-dns [T]
        ("cluster.local.", "NS", 5, "kube-dns." + K),
        extra=[a("kube-dns." + K, "10.96.0.10")])),
    ("CLUSTER.local.", "NS", nodata("CLUSTER.local.")),  # §12 NS compares the spelling [C]
    # -- case (§2.5) ----------------------------------------------------------------------------
    ("_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL.", "SRV", ok(  # §2.5 [T]
        srv("_HtTp._TcP.sVc1.TeStNs.SvC.cLuStEr.LoCaL.", 100, 80, "svc1.testns.svc.cLuStEr.LoCaL."),
        extra=[a("svc1.testns.svc.cLuStEr.LoCaL.", "10.0.0.1")])),
    ("SVC1.TestNS.svc.cluster.local.", "A",
     ok(a("SVC1.TestNS.svc.cluster.local.", "10.0.0.1"))),  # §2.5 owner as asked [T]
    ("Nosuch.Prod.Svc.CLUSTER.local.", "A", nx("CLUSTER.local.")),  # §2.2 SOA spelling [T]
    ("Svc.CLUSTER.local.", "A", nodata("CLUSTER.local.")),  # §2.2 [T]
    ("CLUSTER.local.", "SOA", ok(soa("CLUSTER.local."))),  # §2.2 / §12 [T]
    ("DB-0.Hdls1.testns.svc.Cluster.Local.", "SRV", ok(  # §2.5 built names: objects + zone
        srv("DB-0.Hdls1.testns.svc.Cluster.Local.", 33, 8080,
            "db-0.hdls1.testns.svc.Cluster.Local."),
        extra=[a("db-0.hdls1.testns.svc.Cluster.Local.", "172.0.0.3"),
               a("db-0.hdls1.testns.svc.Cluster.Local.", "172.0.0.4"),
               a("db-0.hdls1.testns.svc.Cluster.Local.", "fd00:10:244:2::3")])),
    ("EXT.testns.svc.cluster.local.", "CNAME",
     ok(cname("EXT.testns.svc.cluster.local.", "ext.example.com."))),  # §2.5 [T]
    ("Ext-In.TestNS.svc.CLUSTER.local.", "A",  # §6 + §2.5: CNAME chased in zone [T]
     ok(cname("Ext-In.TestNS.svc.CLUSTER.local.", SVC1), a(SVC1, "10.0.0.1"))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "qtype", "want"), CASES, ids=[f"{n} {t}" for n, t, _ in CASES])
async def test_answers(name: str, qtype: str, want: Expect) -> None:
    check(await ask(handler(), name, qtype), want)


def test_enough_cases() -> None:
    # The table is the specification of this plugin: it must keep its breadth.
    assert len(CASES) >= 150
