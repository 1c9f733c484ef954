"""kubernetes direct.py: a Service's A/AAAA packed from the index, byte for byte as the
general way answers it.

The general way (records.py, the handler writing and answers.py packing and rendering the
reply) is the reference: for every name of the answer tables and each address type, with and
without EDNS, under configurations that change what a name means, the direct reply must be the
general one's bytes and scope, or None (left to the general way).
"""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import Request
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.kubernetes.scopes import service_scope
from kdns.plugins.testing import run
from kdns.plugins.wire import packed, query_key

from .k8s_kit import handler
from .test_kubernetes_answers import CASES

T = "testns.svc.cluster.local."
NAMES = sorted(
    {name for name, _, _ in CASES}
    | {
        "Svc1.TestNS.Svc.Cluster.LOCAL.",
        "kube-dns.kube-system.svc.cluster.local.",
        "svc.ghost.svc.cluster.local.",
        "svc1.nosuch.svc.cluster.local.",
        "*.testns.svc.cluster.local.",
        "svc1.any.svc.cluster.local.",
        "svc_1." + T,
        "ns.dns.svc.cluster.local.",
        "svc1.testns.svc.cluster.local.in-addr.arpa.",
        "svc1.testns.svc.in-addr.arpa.",
        "svc1.testns.svc.",
    }
)
#: Every ClusterIP Service with an address of the asked family: what direct.py must take.
DIRECT = {
    ("svc1." + T, "A"),
    ("Svc1.TestNS.Svc.Cluster.LOCAL.", "A"),
    ("SVC1.TestNS.svc.cluster.local.", "A"),
    ("svc6." + T, "AAAA"),
    ("dual." + T, "A"),
    ("dual." + T, "AAAA"),
    ("multi." + T, "A"),
    ("noports." + T, "A"),
    ("empty." + T, "A"),
    ("web.prod.svc.cluster.local.", "A"),
    ("svc1.other.svc.cluster.local.", "A"),
    ("kube-dns.kube-system.svc.cluster.local.", "A"),
}
CONFIGS = {
    "default": ("", "cluster.local in-addr.arpa ip6.arpa"),
    "namespaces": ("namespaces testns", "cluster.local in-addr.arpa ip6.arpa"),
    "ignore empty_service": ("ignore empty_service", "cluster.local"),
    "ttl": ("ttl 3600", "cluster.local"),
    "nested zone": ("", "cluster.local testns.svc.cluster.local"),
    "root zone": ("", "."),
    "multicluster": ("multicluster clusterset.local", "cluster.local clusterset.local"),
}


async def general(h: Kubernetes, wire: bytes) -> tuple[bytes, object] | None:
    """What the general way (serve_dns, never the fast path) files for the query, rendered
    as the reply to these very bytes, and its scope."""
    key = query_key(wire)
    assert key is not None
    await run(h, _request(wire))
    prepared = h.answers.entries.get(key)
    if prepared is None:
        return None
    assert not prepared.serial_at  # no SOA: nothing to patch in
    return h.answers.render(key, wire, h.index.serial_for, False), prepared.scope


def _request(wire: bytes) -> Request:
    return Request(dnslib.DNSRecord.parse(wire), "udp", ("10.0.0.9", 5353), size=len(wire))


@pytest.mark.parametrize("setting", list(CONFIGS))
async def test_direct_replies_are_the_general_ones(setting: str) -> None:
    options, zones = CONFIGS[setting]
    took = set()
    for name in NAMES:
        for qtype in ("A", "AAAA"):
            for edns in (False, True):
                msg = dnslib.DNSRecord.question(name, qtype)
                msg.header.id = 4242
                msg.header.rd = 0 if edns else 1
                msg.header.cd = 1 if edns else 0  # the reply echoes both bits
                if edns:
                    msg.add_ar(dnslib.EDNS0(udp_len=1232, flags="do"))
                wire = packed(msg)
                key = query_key(wire)
                assert key is not None
                fast = handler(options, zones=zones)
                direct = fast.direct.reply(fast.index, key, wire)
                if direct is None:
                    continue
                took.add((name, qtype))
                want = await general(handler(options, zones=zones), wire)
                assert want is not None, (name, qtype)
                assert direct == want, (setting, name, qtype, edns)
                # the fast path sends it, fresh until a change of its Service
                assert fast.fast_answer(key, wire, fast.clock()) == direct[0]
                reuse = fast.fast_reuse()
                assert reuse is not None
                assert reuse[0].fresh()
                fast.answers.changed(service_scope("elsewhere", "other"))
                assert reuse[0].fresh()
                fast.answers.changed(direct[1])
                assert not reuse[0].fresh()
    if setting in ("default", "ttl", "multicluster"):  # (clusterset.local is left alone)
        assert took == DIRECT
    elif setting == "namespaces":
        assert took == {(n, t) for n, t in DIRECT if "testns" in n.lower()}
    elif setting == "ignore empty_service":
        assert not took
    elif setting == "root zone":  # every name is the root's: service.namespace.svc.
        assert took == {("svc1.testns.svc.", "A")}
    else:  # testns's names fall in the longer zone, whose Services are not under `svc`
        assert setting == "nested zone"
        assert took == {(n, t) for n, t in DIRECT if "testns" not in n.lower()}
