"""minimal handler: positive answers lose authority and additional; the rest stays as it was."""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN, REFUSED, SERVFAIL, Request, ResponseWriter
from kdns.plugins.testing import StubHandler, build, make_request, run

NS = "example.org. 300 IN NS ns1.example.org."
GLUE = "ns1.example.org. 300 IN A 192.0.2.53"
SOA = "example.org. 300 IN SOA ns1.example.org. admin.example.org. 1 7200 3600 1209600 300"
ANSWER = "www.example.org. 300 IN A 192.0.2.1"


class Sections:
    """A next plugin writing fixed sections and rcode."""

    name = "sections"

    def __init__(self, rcode: int, answer: str = "", auth: str = "", extra: str = "") -> None:
        self.rcode, self.answer, self.auth, self.extra = rcode, answer, auth, extra

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        reply = req.reply(self.rcode, aa=True)
        for text, add in ((self.answer, reply.add_answer), (self.auth, reply.add_auth),
                          (self.extra, reply.add_ar)):  # fmt: skip
            for rr in dnslib.RR.fromZone(text) if text else []:
                add(rr)
        if req.opt is not None:
            reply.add_ar(dnslib.EDNS0(udp_len=1232, opts=[dnslib.EDNSOption(3, b"me")]))
        w.write(reply)
        return self.rcode


CASES = [
    # (name, next plugin, sections kept: answer, authority, additional)
    ("positive answer", Sections(NOERROR, ANSWER, NS, GLUE), (1, 0, 0)),
    ("empty NOERROR without SOA", Sections(NOERROR, "", "", GLUE), (0, 0, 0)),
    ("NODATA", Sections(NOERROR, "", SOA), (0, 1, 0)),
    ("NXDOMAIN", Sections(NXDOMAIN, "", SOA), (0, 1, 0)),
    ("delegation", Sections(NOERROR, "", NS, GLUE), (0, 1, 1)),
    ("SERVFAIL written", Sections(SERVFAIL, "", NS, GLUE), (0, 1, 1)),
    ("REFUSED written", Sections(REFUSED, ANSWER, NS), (1, 1, 0)),
]


@pytest.mark.parametrize(("nxt", "kept"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
async def test_sections(nxt: Sections, kept: tuple[int, int, int]) -> None:
    rcode, w = await run(build("minimal", nxt), make_request("www.example.org", "A"))
    reply = w.reply
    assert reply.header.rcode == nxt.rcode
    assert reply.header.aa == 1
    assert (len(reply.rr), len(reply.auth), len(reply.ar)) == kept
    assert rcode == NOERROR  # written: the server must not write again


async def test_opt_record_and_its_options_are_kept() -> None:
    nxt = Sections(NOERROR, ANSWER, NS, GLUE)
    _, w = await run(build("minimal", nxt), make_request("www.example.org", "A", bufsize=1232))
    opts = [rr for rr in w.reply.ar if rr.rtype == dnslib.QTYPE.OPT]
    assert len(w.reply.ar) == 1
    assert len(opts) == 1
    assert [(o.code, o.data) for o in opts[0].rdata] == [(3, b"me")]
    assert w.reply.auth == []


async def test_nothing_written_returns_the_rcode() -> None:
    nxt = StubHandler(SERVFAIL, write=False)
    rcode, w = await run(build("minimal", nxt), make_request("www.example.org", "A"))
    assert rcode == SERVFAIL
    assert w.replies == []


async def test_zone_transfers_stream_untouched() -> None:
    class Transfer:
        name = "transfer"

        async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
            for _ in range(3):
                reply = req.reply(aa=True)
                reply.add_answer(*dnslib.RR.fromZone(SOA))
                reply.add_ar(*dnslib.RR.fromZone(GLUE))
                w.write(reply)
            return NOERROR

    _, w = await run(build("minimal", Transfer()), make_request("example.org", "AXFR", proto="tcp"))
    assert len(w.replies) == 3
    assert all(len(r.ar) == 1 for r in w.replies)
