"""header handler: query rules change what the chain sees, response rules what the client gets."""

from __future__ import annotations

import pytest

from kdns.plugins.base import NOERROR, SERVFAIL
from kdns.plugins.testing import StubHandler, build, make_request, run

FLAGS = ("aa", "ra", "rd", "cd", "ad")


def flags(header: object) -> set[str]:
    return {f for f in FLAGS if getattr(header, f)}


RESPONSE = [
    # (rules, flags of the reply) -- the stub's reply has RD (copied from the query) only
    ("response set ra", {"rd", "ra"}),
    ("set ra aa\nclear rd", {"ra", "aa"}),
    ("response set aa\nresponse clear aa", {"rd"}),  # the last rule for a flag wins
    ("response clear aa\nresponse set aa", {"rd", "aa"}),
    ("response set ad cd", {"rd", "ad", "cd"}),
]


@pytest.mark.parametrize(("rules", "expected"), RESPONSE)
async def test_response_rules(rules: str, expected: set[str]) -> None:
    nxt = StubHandler()
    rcode, w = await run(build(f"header {{\n{rules}\n}}", nxt), make_request("example.org"))
    assert rcode == NOERROR
    assert flags(w.reply.header) == expected
    assert flags(nxt.calls[0].msg.header) == {"rd"}  # the query is untouched


QUERY = [
    ("query clear rd", set()),
    ("query set cd ad", {"rd", "cd", "ad"}),
    ("query set aa ra", {"rd", "aa", "ra"}),
]


@pytest.mark.parametrize(("rules", "expected"), QUERY)
async def test_query_rules_change_what_the_chain_sees(rules: str, expected: set[str]) -> None:
    nxt = StubHandler()
    await run(build(f"header {{\n{rules}\n}}", nxt), make_request("example.org"))
    assert flags(nxt.calls[0].msg.header) == expected


async def test_query_and_response_rules_together() -> None:
    nxt = StubHandler()
    handler = build("header {\nquery clear rd\nresponse set ra\n}", nxt)
    _, w = await run(handler, make_request("example.org"))
    assert flags(nxt.calls[0].msg.header) == set()
    assert flags(w.reply.header) == {"ra"}  # RD was cleared before the reply copied it


async def test_a_reply_the_server_writes_is_not_changed() -> None:
    nxt = StubHandler(SERVFAIL, write=False)
    rcode, w = await run(build("header {\nresponse set ra\n}", nxt), make_request("example.org"))
    assert rcode == SERVFAIL
    assert w.replies == []
