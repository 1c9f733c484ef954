"""local handler: localhost, the loopback reverse zones, names under and starting with localhost."""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN
from kdns.plugins.local.metrics import LOCALHOST
from kdns.plugins.testing import StubHandler, build, make_request, run

WEEK = 604800
SOA = "localhost. root.localhost. 1 0 0 0 604800"


def rows(rrs: list[dnslib.RR]) -> list[tuple[str, str, int, str]]:
    return [(str(rr.rname), dnslib.QTYPE[rr.rtype], rr.ttl, str(rr.rdata)) for rr in rrs]


CASES = [
    # (qname, qtype, rcode, answer, authority)
    ("localhost", "A", NOERROR, [("localhost.", "A", WEEK, "127.0.0.1")], []),
    ("LocalHost", "AAAA", NOERROR, [("LocalHost.", "AAAA", WEEK, "::1")], []),
    ("localhost", "SOA", NOERROR, [("localhost.", "SOA", WEEK, SOA)], []),
    ("localhost", "NS", NOERROR, [("localhost.", "NS", WEEK, "localhost.")], []),
    ("localhost", "MX", NOERROR, [], [("localhost.", "SOA", WEEK, SOA)]),
    ("127.in-addr.arpa", "A", NOERROR, [], [("127.in-addr.arpa.", "SOA", WEEK, SOA)]),
    ("0.in-addr.arpa", "NS", NOERROR, [("0.in-addr.arpa.", "NS", WEEK, "localhost.")], []),
    ("255.in-addr.arpa", "SOA", NOERROR, [("255.in-addr.arpa.", "SOA", WEEK, SOA)], []),
    ("1.0.0.127.in-addr.arpa", "PTR", NOERROR,
     [("1.0.0.127.in-addr.arpa.", "PTR", WEEK, "localhost.")], []),
    ("1.0.0.127.IN-ADDR.arpa", "A", NOERROR, [], [("127.IN-ADDR.arpa.", "SOA", WEEK, SOA)]),
    ("2.0.0.127.in-addr.arpa", "PTR", NXDOMAIN, [], [("127.in-addr.arpa.", "SOA", WEEK, SOA)]),
    ("1.0.0.0.in-addr.arpa", "PTR", NXDOMAIN, [], [("0.in-addr.arpa.", "SOA", WEEK, SOA)]),
    # names below localhost. (RFC 6761) and starting with localhost.
    ("app.localhost", "A", NOERROR, [("app.localhost.", "A", WEEK, "127.0.0.1")], []),
    ("a.b.localhost", "AAAA", NOERROR, [("a.b.localhost.", "AAAA", WEEK, "::1")], []),
    ("app.localhost", "TXT", NOERROR, [], [("app.localhost.", "SOA", WEEK, SOA)]),
    ("localhost.example.org", "A", NOERROR,
     [("localhost.example.org.", "A", WEEK, "127.0.0.1")], []),
]  # fmt: skip


@pytest.mark.parametrize(("qname", "qtype", "rcode", "answer", "authority"), CASES)
async def test_answers(
    qname: str, qtype: str, rcode: int, answer: list[object], authority: list[object]
) -> None:
    nxt = StubHandler()
    got, w = await run(build("local", nxt, keys="."), make_request(qname, qtype))
    assert got == rcode
    reply = w.reply
    assert reply.header.rcode == rcode
    assert reply.header.aa == 0  # CoreDNS's local does not set AA
    assert rows(reply.rr) == answer
    assert rows(reply.auth) == authority
    assert nxt.calls == []


@pytest.mark.parametrize(
    ("qname", "qtype"),
    [("example.org", "A"), ("notlocalhost", "A"), ("1.0.0.10.in-addr.arpa", "PTR"), (".", "NS")],
)
async def test_other_names_pass_on(qname: str, qtype: str) -> None:
    nxt = StubHandler()
    await run(build("local", nxt, keys="."), make_request(qname, qtype))
    assert len(nxt.calls) == 1


async def test_localhost_prefix_off_passes_prefixed_names_on() -> None:
    nxt = StubHandler()
    handler = build("local {\nlocalhost_prefix off\n}", nxt, keys=".")
    await run(handler, make_request("localhost.example.org", "A"))
    assert len(nxt.calls) == 1
    _, w = await run(handler, make_request("app.localhost", "A"))  # RFC 6761 names still answered
    assert rows(w.reply.rr) == [("app.localhost.", "A", WEEK, "127.0.0.1")]


async def test_metric_counts_names_under_localhost_only() -> None:
    handler = build("local", StubHandler(), keys=".")
    before = LOCALHOST.get()
    await run(handler, make_request("localhost", "A"))
    assert LOCALHOST.get() == before
    await run(handler, make_request("app.localhost", "A"))
    await run(handler, make_request("localhost.example.org", "A"))
    assert LOCALHOST.get() == before + 2
