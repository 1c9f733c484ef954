"""loadbalance on reply bytes gives the bytes the chain gives: same order, same compression."""

from __future__ import annotations

import random

import dnslib
import pytest

from kdns.plugins.loadbalance.fast import WireReorder
from kdns.plugins.loadbalance.shuffle import round_robin
from kdns.plugins.wire import packed

A, AAAA, CNAME, MX, SRV, SOA = 1, 28, 5, 15, 33, 6


def rr(owner: str, rtype: int, data: dnslib.RD) -> dnslib.RR:
    return dnslib.RR(owner, rtype, rdata=data, ttl=30)


def reply(qname: str, qtype: int, *, answer=(), auth=(), extra=(), edns: bool = False, rcode=0):  # type: ignore[no-untyped-def]
    msg = dnslib.DNSRecord(
        dnslib.DNSHeader(qr=1, aa=1, rcode=rcode), q=dnslib.DNSQuestion(qname, qtype)
    )
    msg.rr, msg.auth, msg.ar = list(answer), list(auth), list(extra)
    if edns:
        msg.add_ar(dnslib.EDNS0(udp_len=1232))
    return msg


Q = "web.ns.svc.cluster.local."
CASES = {
    "two A": reply(Q, A, answer=[rr(Q, A, dnslib.A(f"10.0.0.{i}")) for i in (1, 2)]),
    "five A with EDNS": reply(
        Q, A, answer=[rr(Q, A, dnslib.A(f"10.0.0.{i}")) for i in range(1, 6)], edns=True
    ),
    "three AAAA": reply(
        Q, AAAA, answer=[rr(Q, AAAA, dnslib.AAAA(f"fd00::{i}")) for i in (1, 2, 3)]
    ),
    "CNAME then A": reply(
        "www.example.org.",
        A,
        answer=[
            rr("www.example.org.", CNAME, dnslib.CNAME("edge.example.net.")),
            *[rr("edge.example.net.", A, dnslib.A(f"192.0.2.{i}")) for i in (1, 2, 3)],
        ],
    ),
    "SRV with glue": reply(
        "_http._tcp." + Q,
        SRV,
        answer=[rr("_http._tcp." + Q, SRV, dnslib.SRV(0, 50, 80, f"e{i}.{Q}")) for i in (1, 2, 3)],
        extra=[rr(f"e{i}.{Q}", A, dnslib.A(f"10.1.0.{i}")) for i in (1, 2, 3)],
    ),
    "MX (through dnslib)": reply(
        "example.org.",
        MX,
        answer=[rr("example.org.", MX, dnslib.MX(f"mx{i}.example.org.", 10)) for i in (1, 2, 3)],
        extra=[rr(f"mx{i}.example.org.", A, dnslib.A(f"192.0.2.{i}")) for i in (1, 2, 3)],
    ),
    "A then CNAME (through dnslib)": reply(
        "x.example.org.",
        A,
        answer=[
            rr("x.example.org.", A, dnslib.A("192.0.2.1")),
            rr("x.example.org.", CNAME, dnslib.CNAME("y.example.org.")),
        ],
    ),
    "NXDOMAIN": reply(
        "nosuch.example.org.",
        A,
        auth=[
            rr(
                "example.org.",
                SOA,
                dnslib.SOA("ns.example.org.", "h.example.org.", (1, 2, 3, 4, 5)),
            )
        ],
        rcode=3,
    ),
    "one A": reply(Q, A, answer=[rr(Q, A, dnslib.A("10.0.0.1"))]),
}


def chain(msg: dnslib.DNSRecord, rand: random.Random) -> bytes:
    """What the chain sends: reorder the parsed reply (OPT aside), then pack."""
    msg = dnslib.DNSRecord.parse(msg.pack())
    opt = [x for x in msg.ar if x.rtype == 41]
    msg.ar = [x for x in msg.ar if x.rtype != 41]
    if msg.header.rcode == 0:
        msg.rr = round_robin(msg.rr, rand.randrange)
        msg.auth = round_robin(msg.auth, rand.randrange)
        msg.ar = round_robin(msg.ar, rand.randrange)
    msg.ar += opt
    packed: bytes = msg.pack()
    return packed


def reorderer(rand: random.Random) -> WireReorder:
    """The byte reordering, with the chain's reordering as its fallback, on one random source."""

    def reorder(parsed: dnslib.DNSRecord) -> None:
        parsed.rr = round_robin(parsed.rr, rand.randrange)
        parsed.auth = round_robin(parsed.auth, rand.randrange)
        parsed.ar = round_robin(parsed.ar, rand.randrange)

    return WireReorder(reorder, lambda: rand.randrange)


@pytest.mark.parametrize("name", list(CASES))
def test_bytes_match_the_chain_for_every_draw(name: str) -> None:
    msg = CASES[name]
    for seed in range(40):
        wire = reorderer(random.Random(seed))(packed(msg))
        assert wire == chain(msg, random.Random(seed)), (name, seed)


def test_every_order_shows_up() -> None:
    """Five addresses: the first answer varies from query to query."""
    msg = CASES["five A with EDNS"]
    wire = reorderer(random.Random(7))
    firsts = {str(dnslib.DNSRecord.parse(wire(packed(msg))).rr[0].rdata) for _ in range(200)}
    assert firsts == {f"10.0.0.{i}" for i in range(1, 6)}
