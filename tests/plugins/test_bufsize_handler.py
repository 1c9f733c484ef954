"""bufsize handler: the request's EDNS0 size is lowered, never raised, never invented."""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR, PluginError
from kdns.plugins.testing import StubHandler, build, make_request, run


def opt_sizes(msg: dnslib.DNSRecord) -> list[int]:
    return [rr.rclass for rr in msg.ar if rr.rtype == dnslib.QTYPE.OPT]


@pytest.mark.parametrize(
    ("text", "client", "seen"),
    [
        ("bufsize", 4096, 1232),
        ("bufsize", 1232, 1232),
        ("bufsize", 1000, 1000),  # smaller than the limit: kept
        ("bufsize 512", 1400, 512),
        ("bufsize 1024", 1152, 1024),
        ("bufsize 1024", 896, 896),
        ("bufsize 600\nbufsize 1000", 4096, 600),  # only the first directive counts
    ],
)
async def test_edns_size_is_capped(text: str, client: int, seen: int) -> None:
    """The next plugin (and the writer truncating the reply) sees the lowered size."""
    stub = StubHandler(NOERROR, ("example.org. 60 IN A 192.0.2.1",))
    req = make_request("example.org", bufsize=client)
    rcode, w = await run(build(text, stub), req)
    assert rcode == NOERROR
    assert len(w.reply.rr) == 1
    assert stub.calls[0].udp_size == seen
    assert opt_sizes(stub.calls[0].msg) == [seen]


async def test_request_without_edns_gets_no_opt() -> None:
    """Unlike the limit, an OPT record is never added: the client stays at 512 bytes."""
    stub = StubHandler()
    await run(build("bufsize 1232", stub), make_request("example.org"))
    assert opt_sizes(stub.calls[0].msg) == []
    assert stub.calls[0].udp_size == 512


async def test_do_bit_and_tcp_untouched() -> None:
    stub = StubHandler()
    await run(build("bufsize 512", stub), make_request("example.org", bufsize=4096, do=True))
    assert stub.calls[0].do
    await run(build("bufsize 512", stub), make_request("example.org", bufsize=4096, proto="tcp"))
    assert stub.calls[1].udp_size == 65535  # TCP has no buffer limit
    assert opt_sizes(stub.calls[1].msg) == [512]


async def test_no_next_plugin_is_an_error() -> None:
    with pytest.raises(PluginError, match="plugin/bufsize: no next plugin found"):
        await run(build("bufsize", None), make_request("example.org", bufsize=4096))
