"""kubernetes direct.py: a Service's A/AAAA packed from the index, byte for byte as the
general way files it.

The general way (records.py, the handler writing and answers.py packing the reply) is the
reference: for every name of the answer tables and each address type, under configurations that
change what a name means, the direct entry must be the general one's bytes, scope and
question-case rule, or None (left to the general way).
"""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import Request
from kdns.plugins.kubernetes.handler import Kubernetes
from kdns.plugins.testing import run
from kdns.plugins.wire import query_key

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


async def general(h: Kubernetes, wire: bytes) -> tuple[bytes, object, bool, int] | None:
    """What the general way files for the query (serve_dns, never the fast path)."""
    key = query_key(wire)
    req = _request(wire)
    await run(h, req)
    prepared = h.answers.entries.get(key)  # type: ignore[arg-type]
    if prepared is None:
        return None
    entry = prepared.entry
    return entry.wire, prepared.scope, entry.locked, prepared.serial_at


def _request(wire: bytes) -> Request:
    return Request(dnslib.DNSRecord.parse(wire), "udp", ("10.0.0.9", 5353), size=len(wire))


@pytest.mark.parametrize("setting", list(CONFIGS))
async def test_direct_entries_are_the_general_ones(setting: str) -> None:
    options, zones = CONFIGS[setting]
    took = set()
    for name in NAMES:
        for qtype in ("A", "AAAA"):
            for edns in (False, True):
                msg = dnslib.DNSRecord.question(name, qtype)
                msg.header.id = 4242
                msg.header.rd = 0 if edns else 1
                if edns:
                    msg.add_ar(dnslib.EDNS0(udp_len=1232, flags="do"))
                wire = msg.pack()
                key = query_key(wire)
                assert key is not None
                fast = handler(options, zones=zones)
                direct = fast.direct.entry(fast.index, key, wire)
                if direct is None:
                    continue
                took.add((name, qtype))
                entry, scope = direct
                want = await general(handler(options, zones=zones), wire)
                assert want is not None, (name, qtype)
                assert (entry.wire, scope, entry.locked, 0) == want, (setting, name, qtype)
                assert entry.qend == 12 + len(key[0])
                # what the fast path sends is the table's reply to this very query
                sent = fast.fast_answer(key, wire, fast.clock())
                assert sent is not None
                assert fast.fast_reuse() is not None
                assert sent == fast.answers.render(key, wire, fast.index.serial_for, False)
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
