"""any handler: ANY gets the RFC 8482 HINFO; other types reach the next plugin untouched."""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR
from kdns.plugins.testing import StubHandler, build, make_request, run


@pytest.mark.parametrize("qname", ["example.org", "WWW.Example.ORG", "nothing.example.org"])
async def test_any_gets_one_hinfo(qname: str) -> None:
    nxt = StubHandler()
    rcode, w = await run(build("any", nxt), make_request(qname, "ANY"))
    assert rcode == NOERROR
    reply = w.reply
    assert reply.header.rcode == NOERROR
    assert len(reply.rr) == 1
    rr = reply.rr[0]
    assert str(rr.rname) == qname + "."  # the owner is the name as asked
    assert (rr.rtype, rr.rclass, rr.ttl) == (dnslib.QTYPE.HINFO, dnslib.CLASS.IN, 8482)
    assert rr.rdata.data == b"\x0dANY obsoleted\x0cSee RFC 8482"
    assert reply.auth == []
    assert reply.ar == []
    assert nxt.calls == []


@pytest.mark.parametrize("qtype", ["A", "AAAA", "TXT", "HINFO", "AXFR"])
async def test_other_types_pass_on(qtype: str) -> None:
    nxt = StubHandler(answers=("example.org. 60 IN A 192.0.2.1",))
    rcode, w = await run(build("any", nxt), make_request("example.org", qtype))
    assert rcode == NOERROR
    assert len(nxt.calls) == 1
    assert [str(rr.rdata) for rr in w.reply.rr] == ["192.0.2.1"]
