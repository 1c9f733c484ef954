"""bufsize over real sockets: what the chain sees of the client's EDNS0 buffer size."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import dns.asyncquery
import dns.message
import dns.rcode
import pytest
import structlog

from kdns.runtime import logs
from kdns.runtime.testing import free_port, running


@pytest.fixture
def buffer() -> Iterator[io.StringIO]:
    """Log as `kdns serve` does into a buffer, for the log plugin to show the sizes seen."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    logs.setup(stream=out)
    root.handlers[0].addFilter(lambda record: record.name == "plugin/log")
    yield out
    structlog.configure(**saved)
    root.handlers[:], root.level = handlers, level


async def test_requests_are_capped_never_raised_and_never_given_edns(
    buffer: io.StringIO,
) -> None:
    """log (after bufsize in the chain) sees the lowered size; a client without EDNS stays so."""
    port = free_port()
    corefile = f'.:{port} {{\n    bufsize 1000\n    log . "{{>bufsize}} {{size}}"\n    whoami\n}}\n'
    async with running(corefile):
        for payload in (4096, 800):
            query = dns.message.make_query("example.org", "A", use_edns=0, payload=payload)
            reply = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=3)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.edns == 0
        query = dns.message.make_query("example.org", "A", use_edns=False)
        reply = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=3)
        assert reply.edns == -1  # no OPT added on the way
        query = dns.message.make_query("example.org", "A", use_edns=0, payload=4096)
        await dns.asyncquery.tcp(query, "127.0.0.1", port=port, timeout=3)
    sizes = [line.rsplit(" ", 2)[-2:] for line in buffer.getvalue().splitlines()]
    assert sizes == [["1000", "40"], ["800", "40"], ["512", "29"], ["65535", "40"]]
