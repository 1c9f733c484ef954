"""acl handler: first matching policy wins per rule; block, filter, drop, allow; metrics."""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.acl.metrics import ALLOWED, BLOCKED, DROPPED, FILTERED
from kdns.plugins.base import NOERROR, REFUSED
from kdns.plugins.testing import StubHandler, build, make_request, run

OPT = dnslib.QTYPE.OPT
ANSWER = ("example.org. 60 IN A 192.0.2.1",)

RULES = """\
acl a.example.org {
    allow net 192.168.1.0/24
    block net 192.168.0.0/16
}
acl {
    filter type AAAA net 10.0.0.0/8
    drop type TXT
    block type MX net 2001:db8::/32 10.1.0.0/16
    allow net 10.1.0.0/16
    block net 10.0.0.0/8
}"""

CASES = [
    # (qname, qtype, client, outcome)
    ("x.a.example.org", "A", "192.168.1.9", "allow"),  # first policy of the first rule
    ("x.a.example.org", "A", "192.168.2.9", "block"),
    ("x.a.example.org", "A", "172.16.0.1", "allow"),  # no policy matched anywhere
    ("www.example.org", "A", "192.168.2.9", "allow"),  # the first rule's zone does not hold it
    ("www.example.org", "AAAA", "10.9.9.9", "filter"),
    ("www.example.org", "AAAA", "172.16.0.1", "allow"),
    ("www.example.org", "TXT", "172.16.0.1", "drop"),
    ("www.example.org", "MX", "2001:db8::5", "block"),
    ("www.example.org", "MX", "10.1.2.3", "block"),  # before the allow of 10.1/16
    ("www.example.org", "A", "10.1.2.3", "allow"),
    ("www.example.org", "A", "10.2.2.3", "block"),
    ("www.example.org", "A", "::ffff:10.2.2.3", "block"),  # an IPv4 client on a v6 socket
    ("www.example.com", "A", "10.2.2.3", "allow"),  # outside every rule's zones
    ("www.example.org", "A", "not-an-ip", "block"),  # an unreadable source is blocked
]


def ede(reply: dnslib.DNSRecord) -> list[bytes]:
    return [o.data for rr in reply.ar if rr.rtype == OPT for o in rr.rdata if o.code == 15]


@pytest.mark.parametrize(("qname", "qtype", "client", "outcome"), CASES)
async def test_outcomes(qname: str, qtype: str, client: str, outcome: str) -> None:
    nxt = StubHandler(answers=ANSWER)
    req = make_request(qname, qtype, remote=(client, 5353), bufsize=1232)
    rcode, w = await run(build(RULES, nxt), req)
    if outcome == "allow":
        assert len(nxt.calls) == 1
        assert len(w.reply.rr) == 1
        return
    assert nxt.calls == []
    if outcome == "drop":
        assert rcode == NOERROR  # "written": the server sends nothing
        assert w.replies == []
        return
    expected_rcode = REFUSED if outcome == "block" else NOERROR
    assert rcode == NOERROR
    assert w.reply.header.rcode == expected_rcode
    assert w.reply.rr == []
    assert w.reply.auth == []
    assert ede(w.reply) == [b"\x00\x0f" if outcome == "block" else b"\x00\x11"]
    assert req.answered_by == "acl"


async def test_rules_without_policies_allow() -> None:
    nxt = StubHandler()
    await run(build("acl {\n}", nxt), make_request("example.org"))
    assert len(nxt.calls) == 1


async def test_a_policy_without_type_or_net_matches_everything() -> None:
    _, w = await run(build("acl {\nblock\n}", StubHandler()), make_request("x.example.org", "SRV"))
    assert w.reply.header.rcode == REFUSED


async def test_metrics_count_each_outcome_with_zone_and_view() -> None:
    handler = build(RULES, StubHandler(answers=ANSWER))
    key = ("dns://:53", "example.org.", "")
    before = (BLOCKED.get(key), FILTERED.get(key), DROPPED.get(key))
    allowed = ALLOWED.get(("dns://:53", ""))
    for qtype, client in (("A", "10.2.0.1"), ("AAAA", "10.2.0.1"), ("TXT", "10.2.0.1"),
                          ("A", "10.1.0.1")):  # fmt: skip
        await run(handler, make_request("www.example.org", qtype, remote=(client, 53)))
    assert (BLOCKED.get(key), FILTERED.get(key), DROPPED.get(key)) == tuple(n + 1 for n in before)
    assert ALLOWED.get(("dns://:53", "")) == allowed + 1
    # the zone label is the rule's zone that holds the name
    sub = ("dns://:53", "a.example.org.", "")
    blocked_sub = BLOCKED.get(sub)
    await run(handler, make_request("x.a.example.org", remote=("192.168.2.1", 53)))
    assert BLOCKED.get(sub) == blocked_sub + 1
