"""nsid handler: the NSID option in replies to queries that carry one, and only those."""

from __future__ import annotations

import socket

import dnslib
import pytest

from kdns.plugins.base import NOERROR, Request, ResponseWriter
from kdns.plugins.testing import StubHandler, build, make_request, run

OPT = dnslib.QTYPE.OPT


def nsid_request(name: str = "example.org", *, do: bool = False, data: bytes = b"") -> Request:
    """Return a request parsed from wire whose OPT carries an NSID option with `data`."""
    msg = dnslib.DNSRecord.question(name, "A")
    opt = dnslib.EDNS0(udp_len=1232, flags="do" if do else "")
    opt.rdata = [dnslib.EDNSOption(8, b"\x00\x01\x18\x00\x0a"), dnslib.EDNSOption(3, data)]
    msg.add_ar(opt)
    wire = msg.pack()
    return Request(dnslib.DNSRecord.parse(wire), "udp", ("10.240.0.1", 40212), size=len(wire))


def options(reply: dnslib.DNSRecord) -> list[tuple[int, bytes]]:
    opts = [rr for rr in reply.ar if rr.rtype == OPT]
    assert len(opts) == 1
    return [(o.code, o.data) for o in opts[0].rdata]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("nsid", socket.gethostname().encode()), ("nsid Use The Force", b"Use The Force")],
)
async def test_adds_nsid_when_asked(text: str, expected: bytes) -> None:
    nxt = StubHandler(answers=("example.org. 60 IN A 192.0.2.1",))
    rcode, w = await run(build(text, nxt), nsid_request())
    assert rcode == NOERROR
    assert options(w.reply) == [(3, expected)]
    assert [str(rr.rdata) for rr in w.reply.rr] == ["192.0.2.1"]  # the answer is untouched


async def test_a_query_with_data_in_its_option_is_answered_too() -> None:
    _, w = await run(build("nsid me", StubHandler()), nsid_request(data=b"x"))
    assert options(w.reply) == [(3, b"me")]


async def test_keeps_other_options_and_replaces_an_nsid_already_there() -> None:
    class WithOptions:
        name = "opts"

        async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
            reply = req.reply()
            opts = [dnslib.EDNSOption(15, b"\x00\x11"), dnslib.EDNSOption(3, b"upstream")]
            reply.add_ar(dnslib.EDNS0(udp_len=4096, flags="do", opts=opts))
            w.write(reply)
            return NOERROR

    _, w = await run(build("nsid me", WithOptions()), nsid_request(do=True))
    assert options(w.reply) == [(15, b"\x00\x11"), (3, b"me")]
    opt = w.reply.ar[0]
    assert opt.ttl & 0x8000  # the DO bit of the OPT the chain wrote stays


async def test_new_opt_copies_the_do_bit() -> None:
    _, w = await run(build("nsid me", StubHandler()), nsid_request(do=True))
    assert w.reply.ar[0].ttl & 0x8000
    _, w = await run(build("nsid me", StubHandler()), nsid_request(do=False))
    assert not w.reply.ar[0].ttl & 0x8000


@pytest.mark.parametrize("bufsize", [None, 1232])
async def test_queries_without_nsid_are_untouched(bufsize: int | None) -> None:
    nxt = StubHandler()
    _, w = await run(build("nsid me", nxt), make_request("example.org", "A", bufsize=bufsize))
    assert len(nxt.calls) == 1
    assert w.reply.ar == []
