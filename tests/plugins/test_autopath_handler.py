"""autopath handler: the server-side search walk, with `@kubernetes` and with a resolv.conf.

Sections refer to /work/shared/research/k8s-dns-spec.md (§19 autopath with @kubernetes).
"""

from __future__ import annotations

from pathlib import Path

import dnslib
import pytest

from kdns.plugins.autopath import Autopath, resolv_search
from kdns.plugins.autopath.handler import SUCCESS
from kdns.plugins.base import NOERROR, NXDOMAIN, Handler, PluginError, Request, ResponseWriter
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.kubernetes.objects import Pod
from kdns.plugins.testing import StubHandler, build, make_request, run

from .k8s_kit import CLOCK, handler, rows

DEV = ("10.244.9.9", 40000)  # pod other-pod in testns (k8s_kit.PODS)
T = "testns.svc.cluster.local."
SOA_ROW = (
    "cluster.local.",
    "SOA",
    5,
    f"ns.dns.cluster.local. hostmaster.cluster.local. {CLOCK} 7200 1800 86400 5",
)


class Names:
    """A next handler that knows a few names: others NXDOMAIN, other types NODATA."""

    name = "names"

    def __init__(self, *known: str) -> None:
        self.known = {k: dnslib.RR.fromZone(k)[0] for k in known}
        self.asked: list[str] = []

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        self.asked.append(req.name)
        found = [rr for rr in self.known.values() if str(rr.rname).lower() == req.qname]
        reply = req.reply(NOERROR if found else NXDOMAIN, aa=True)
        reply.rr = [rr for rr in found if rr.rtype == req.qtype]
        w.write(reply)
        return int(reply.header.rcode)


async def kube_chain(
    options: str = "pods verified", search: tuple[str, ...] = ("example.com.",)
) -> tuple[Handler, Kubernetes, Names]:
    """autopath @kubernetes in front of the kubernetes plugin over the test cluster."""
    names = Names("web.example.com. 60 IN A 192.0.2.80", "bare. 30 IN A 192.0.2.99")
    kube = handler(options, zones="cluster.local", nxt=names)
    kube.autopath_search = search
    front = build("autopath @kubernetes", kube, keys="cluster.local")
    await front.start()  # type: ignore[attr-defined]
    return front, kube, names


async def ask(front: Handler, name: str, qtype: str = "A", remote: tuple[str, int] = DEV):
    rcode, w = await run(front, make_request(name, qtype, remote=remote))
    return rcode, w.reply


CASES = [
    # (name, qtype, rcode, answer rows) from a pod in testns
    pytest.param(
        "web.prod." + T,
        "A",
        NOERROR,
        [
            ("web.prod." + T, "CNAME", 5, "web.prod.svc.cluster.local."),
            ("web.prod.svc.cluster.local.", "A", 5, "10.96.10.10"),
        ],
        id="other-namespace-via-svc-zone",
    ),
    pytest.param(
        "svc1." + T, "A", NOERROR, [("svc1." + T, "A", 5, "10.0.0.1")], id="first-try-no-cname"
    ),
    pytest.param(
        "web." + T,
        "A",
        NOERROR,
        [
            ("web." + T, "CNAME", 60, "web.example.com."),
            ("web.example.com.", "A", 60, "192.0.2.80"),
        ],
        id="resolv-conf-search-domain",
    ),
    pytest.param(
        "bare." + T,
        "A",
        NOERROR,
        [("bare." + T, "CNAME", 30, "bare."), ("bare.", "A", 30, "192.0.2.99")],
        id="bare-name-last",
    ),
    pytest.param("web.prod." + T, "AAAA", NOERROR, [], id="nodata-on-the-way"),
    pytest.param("nosuch." + T, "A", NXDOMAIN, [], id="all-nxdomain-first-reply"),
]


@pytest.mark.parametrize(("name", "qtype", "rcode", "answer"), CASES)
async def test_kubernetes_search_walk(name: str, qtype: str, rcode: int, answer: list) -> None:
    """§19: the first non-NXDOMAIN try wins, CNAME from the name asked, question set back."""
    front, _, _ = await kube_chain()
    got, reply = await ask(front, name, qtype)
    assert got == rcode
    assert reply.header.rcode == rcode
    assert rows(reply.rr) == sorted(answer)
    assert str(reply.q.qname) == name
    if not answer:
        assert rows(reply.auth) == [SOA_ROW]


async def test_nodata_is_the_other_namespaces_own() -> None:
    """§19: the NODATA found for web.prod.svc comes back as is, for the name asked."""
    front, _, names = await kube_chain()
    _, reply = await ask(front, "web.prod." + T, "AAAA")
    assert reply.header.aa
    assert names.asked == []  # found inside the cluster: the search domains were not needed


async def test_every_candidate_is_tried_in_order() -> None:
    front, _, names = await kube_chain()
    await ask(front, "nosuch." + T)
    # cluster names are answered by kubernetes; the rest reach the next plugin
    assert names.asked == ["nosuch.example.com.", "nosuch."]


async def test_case_of_the_name_asked_is_kept() -> None:
    front, _, _ = await kube_chain()
    _, reply = await ask(front, "Web.Prod.TestNS.svc.cluster.local.")
    assert str(reply.q.qname) == "Web.Prod.TestNS.svc.cluster.local."
    assert str(reply.rr[0].rname) == "Web.Prod.TestNS.svc.cluster.local."
    assert reply.rr[0].rtype == dnslib.QTYPE.CNAME


@pytest.mark.parametrize(
    ("name", "remote", "options"),
    [
        ("web.prod." + T, ("10.9.9.9", 1), "pods verified"),  # §19 unknown source IP
        ("web.prod." + T, DEV, "pods insecure"),  # §19 needs pods verified
        ("web.prod.svc.cluster.local.", DEV, "pods verified"),  # not under the first element
        (T, DEV, "pods verified"),  # the first element itself: no base to walk
    ],
)
async def test_left_alone(name: str, remote: tuple[str, int], options: str) -> None:
    """The query goes down the chain untouched: kubernetes answers the name as asked."""
    front, kube, _ = await kube_chain(options)
    _, reply = await ask(front, name, remote=remote)
    _, direct = await run(kube, make_request(name, "A", remote=remote))
    assert rows(reply.rr) == rows(direct.reply.rr)
    assert reply.header.rcode == direct.reply.header.rcode
    assert not any(rr.rtype == dnslib.QTYPE.CNAME for rr in reply.rr)


async def test_names_outside_the_autopath_zones_pass() -> None:
    names = Names("web.example.com. 60 IN A 192.0.2.80")
    kube = handler("pods verified", zones="cluster.local", nxt=names)
    front = build("autopath cluster.local @kubernetes", kube, keys=".")
    await front.start()  # type: ignore[attr-defined]
    _, w = await run(front, make_request("web.example.com.", "A", remote=DEV))
    assert names.asked == ["web.example.com."]
    assert w.reply.rr[0].rtype == dnslib.QTYPE.A


async def test_success_is_counted_per_server() -> None:
    front, _, _ = await kube_chain()
    before = SUCCESS.get(("dns://:53",))
    await ask(front, "web.prod." + T)
    await ask(front, "nosuch." + T)  # a failed walk is not a success
    await ask(front, "svc1." + T)
    assert SUCCESS.get(("dns://:53",)) == before + 2


async def test_resolv_conf_file(tmp_path: Path) -> None:
    """RESOLV-CONF as a file: its search line is the path for every client."""
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 10.0.0.1\nsearch a.example b.example.\noptions ndots:5\n")
    names = Names("x.b.example. 10 IN A 192.0.2.7")
    front = build(f"autopath {conf}", names, keys=".")
    await front.start()  # type: ignore[attr-defined]
    _, w = await run(front, make_request("x.a.example.", "A"))
    assert rows(w.reply.rr) == sorted(
        [("x.a.example.", "CNAME", 10, "x.b.example."), ("x.b.example.", "A", 10, "192.0.2.7")]
    )
    assert names.asked == ["x.a.example.", "x.b.example."]


async def test_missing_resolv_conf_fails_start(tmp_path: Path) -> None:
    front = build(f"autopath {tmp_path / 'nope'}", StubHandler(), keys=".")
    with pytest.raises(PluginError, match="failed to read"):
        await front.start()  # type: ignore[attr-defined]


async def test_plugin_without_a_search_path_fails_start() -> None:
    """CoreDNS: the named plugin must implement AutoPather."""
    stub = StubHandler()
    stub.name = "whoami"
    front = build("autopath @whoami", stub, keys=".")
    with pytest.raises(PluginError, match="does not implement"):
        await front.start()  # type: ignore[attr-defined]


async def test_absent_plugin_means_no_autopath() -> None:
    names = Names()
    front = build("autopath @kubernetes", names, keys="cluster.local")
    assert isinstance(front, Autopath)
    await front.start()
    await run(front, make_request("a.b." + T, "A", remote=DEV))
    assert names.asked == ["a.b." + T]


async def test_kubernetes_reads_the_server_resolv_conf_at_start(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search corp.example\n")
    kube = handler("pods verified", zones="cluster.local")
    kube.resolv_conf = str(conf)
    await kube.start()
    assert kube.search_path("x." + T, DEV[0]) == [
        T,
        "svc.cluster.local.",
        "cluster.local.",
        "corp.example.",
    ]
    assert kube.search_path("x." + T, "::ffff:10.244.9.9") is not None  # v4-mapped source
    assert kube.search_path("x.example.org.", DEV[0]) is None  # outside the zones


@pytest.mark.parametrize(
    ("text", "search"),
    [
        ("search a.example B.Example.\n", ["a.example.", "b.example."]),
        ("domain corp.\nsearch x y\n", ["x.", "y."]),
        ("search x\ndomain corp\n", ["corp."]),  # the last line wins
        ("# search no\nnameserver 1.1.1.1\n", []),
    ],
)
def test_resolv_search(text: str, search: list[str]) -> None:
    assert resolv_search(text) == search


async def test_the_path_follows_the_pod_watch() -> None:
    """A Pod that leaves (or changes address) no longer gives its namespace to the address."""
    front, kube, _ = await kube_chain()
    pod = next(p for p in kube.index.pods.values() if p.ip == DEV[0])
    kube.index.apply("Pod", "DELETED", pod)
    _, reply = await ask(front, "web.prod." + T)
    assert reply.header.rcode == NXDOMAIN
    kube.index.apply("Pod", "ADDED", Pod("prod", "moved", DEV[0]))
    assert kube.search_path("web.prod." + T, DEV[0]) == [
        "prod.svc.cluster.local.",
        "svc.cluster.local.",
        "cluster.local.",
        "example.com.",
    ]
