"""chaos handler: CH TXT names answered with version, authors and host name; others pass on."""

from __future__ import annotations

import socket

import dnslib
import pytest

from kdns.plugins.base import NOERROR
from kdns.plugins.chaos.handler import Chaos, default_version
from kdns.plugins.testing import StubHandler, build, make_request, run


def texts(reply: dnslib.DNSRecord) -> list[str]:
    return [b"".join(rr.rdata.data).decode() for rr in reply.rr]


ANSWERS = [
    ("chaos v1 ann bob", "version.bind", ["v1"]),
    ("chaos v1 ann bob", "VERSION.Server", ["v1"]),
    ("chaos", "version.bind", [default_version()]),
    ("chaos v1", "hostname.bind", [socket.gethostname()]),
    ("chaos v1", "id.server", [socket.gethostname()]),
]


@pytest.mark.parametrize(("text", "qname", "expected"), ANSWERS)
async def test_answers(text: str, qname: str, expected: list[str]) -> None:
    nxt = StubHandler()
    rcode, w = await run(build(text, nxt, keys="."), make_request(qname, "TXT", qclass="CH"))
    assert rcode == NOERROR
    assert texts(w.reply) == expected
    for rr in w.reply.rr:
        assert (str(rr.rname), rr.rclass, rr.ttl) == (qname + ".", dnslib.CLASS.CH, 0)
    assert w.reply.header.aa == 0
    assert nxt.calls == []


def test_default_version_names_kdns() -> None:
    assert default_version().startswith("kdns-")


async def test_authors_one_record_each_in_any_order() -> None:
    handler = build("chaos v1 carol ann bob", StubHandler(), keys=".")
    seen = set()
    for _ in range(30):
        _, w = await run(handler, make_request("authors.bind", "TXT", qclass="CH"))
        assert sorted(texts(w.reply)) == ["ann", "bob", "carol"]
        seen.add(tuple(texts(w.reply)))
    assert len(seen) > 1  # shuffled, as CoreDNS does (6 orders; 30 tries)


async def test_default_authors_are_built_in() -> None:
    _, w = await run(
        build("chaos", StubHandler(), keys="."), make_request("authors.bind", "TXT", qclass="CH")
    )
    assert texts(w.reply) == ["The kdns authors"]


PASSED_ON = [
    ("version.bind", "TXT", "IN"),  # IN class
    ("version.bind", "A", "CH"),  # not TXT
    ("other.bind", "TXT", "CH"),  # unknown name
    ("version.bind.example", "TXT", "CH"),
]


@pytest.mark.parametrize(("qname", "qtype", "qclass"), PASSED_ON)
async def test_others_pass_on(qname: str, qtype: str, qclass: str) -> None:
    nxt = StubHandler()
    rcode, _ = await run(
        build("chaos v1", nxt, keys="."), make_request(qname, qtype, qclass=qclass)
    )
    assert rcode == NOERROR
    assert len(nxt.calls) == 1


def test_it_opens_the_listener_to_other_classes() -> None:
    assert Chaos.any_class is True
