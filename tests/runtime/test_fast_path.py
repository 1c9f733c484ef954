"""The fast path is a compiled view of the chain: same bytes out, same metrics counted."""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.message
import dns.rcode

from kdns.plugins.metrics import REGISTRY
from kdns.plugins.wire import ttl_offsets
from kdns.runtime.server import Server
from kdns.runtime.testing import free_port, running

COREFILE = """\
.:{port} {{
    errors
    prometheus 127.0.0.1:{metrics}
    cache 30
    hosts {{
        10.0.0.1 web.example.org
        10.0.0.2 web.example.org
        fd00::1 web.example.org
        ttl 60
    }}
}}
"""


def set_fast(server: Server, on: bool) -> None:
    assert server.current is not None
    for mux in server.current.muxes.values():
        mux.fast_enabled = on


def normalised(wire: bytes) -> bytes:
    """The reply bytes with ID 0 and every TTL 0, to compare answers a second apart.

    Done on the bytes: re-encoding with dnspython would shuffle records.
    """
    out = bytearray(wire)
    out[0:2] = b"\0\0"
    for offset in ttl_offsets(wire)[0]:
        out[offset : offset + 4] = b"\0\0\0\0"
    return bytes(out)


async def raw(port: int, name: str, rdtype: str, *, tcp: bool = False, **make: object) -> bytes:
    """Send a query and return the reply's bytes exactly as they arrived."""
    query = dns.message.make_query(name, rdtype, **make)  # type: ignore[arg-type]
    wire = query.to_wire()
    if tcp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(struct.pack("!H", len(wire)) + wire)
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        data = await reader.readexactly(length)
        writer.close()
        return data
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_sendto(sock, wire, ("127.0.0.1", port))
        return await asyncio.wait_for(loop.sock_recv(sock, 65535), 3)


def counter(name: str, **labels: str) -> float:
    """The sum of a metric's series with these labels, the hot path's pending counts included."""
    REGISTRY.flush()
    metric = REGISTRY.metrics[name]
    return sum(
        value
        for key, value in metric.values.items()
        if all(key[metric.labels.index(k)] == v for k, v in labels.items())
    )


async def test_fast_and_chain_answers_are_byte_identical() -> None:
    """For hits over UDP and TCP, with and without EDNS and DO, both paths send the same bytes."""
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)) as server:
        cases = [
            ("web.example.org", "A", {}),
            ("web.example.org", "AAAA", {"use_edns": 0}),
            ("web.example.org", "A", {"want_dnssec": True}),
            ("web.example.org", "MX", {"use_edns": 0}),
        ]
        for name, rdtype, make in cases:
            for tcp in (False, True):
                await raw(port, name, rdtype, tcp=tcp, **make)  # fill the cache
                set_fast(server, True)
                fast = await raw(port, name, rdtype, tcp=tcp, **make)
                set_fast(server, False)
                chain = await raw(port, name, rdtype, tcp=tcp, **make)
                assert normalised(fast) == normalised(chain), (name, rdtype, make, tcp)
                assert dns.message.from_wire(fast).rcode() == dns.rcode.NOERROR


async def test_fast_path_answers_are_counted_like_chain_answers() -> None:
    """A hit on the fast path counts a request, a response by cache, and a cache hit."""
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)) as server:
        await raw(port, "web.example.org", "A")
        set_fast(server, True)
        label = f"dns://:{port}"
        before = (
            counter("coredns_dns_requests_total", server=label),
            counter("coredns_dns_responses_total", server=label, plugin="cache"),
            counter("coredns_cache_hits_total", server=label),
        )
        for _ in range(5):
            await raw(port, "web.example.org", "A")
        after = (
            counter("coredns_dns_requests_total", server=label),
            counter("coredns_dns_responses_total", server=label, plugin="cache"),
            counter("coredns_cache_hits_total", server=label),
        )
        assert [b - a for a, b in zip(before, after, strict=True)] == [5, 5, 5]


async def test_block_with_log_in_front_takes_the_chain() -> None:
    """A non-transparent plugin in front of the cache (log) keeps every query on the chain."""
    port = free_port()
    corefile = f".:{port} {{\n    log\n    cache 30\n    whoami\n}}\n"
    async with running(corefile) as server:
        assert server.current is not None
        routes = [
            r for mux in server.current.muxes.values() for rs in mux.routes.values() for r in rs
        ]
        assert routes
        assert all(not r.fast for r in routes)


async def test_fast_path_is_compiled_for_transparent_fronts() -> None:
    """errors and prometheus in front of cache: the route answers from the cache's bytes."""
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)) as server:
        assert server.current is not None
        routes = [
            r for mux in server.current.muxes.values() for rs in mux.routes.values() for r in rs
        ]
        assert all(r.fast for r in routes)
        assert all([o.name for o in r.observers] == ["prometheus"] for r in routes)  # type: ignore[attr-defined]


async def test_queries_no_block_takes_are_counted_as_dropped() -> None:
    """A name outside every zone is REFUSED and counted under zone "dropped", as in CoreDNS."""
    port, metrics = free_port(), free_port()
    corefile = f"example.org:{port} {{\n    prometheus 127.0.0.1:{metrics}\n    whoami\n}}\n"
    async with running(corefile):
        label = f"dns://:{port}"
        before = counter("coredns_dns_requests_total", server=label, zone="dropped")
        reply = dns.message.from_wire(await raw(port, "elsewhere.test", "A"))
        assert reply.rcode() == dns.rcode.REFUSED
        after = counter("coredns_dns_requests_total", server=label, zone="dropped")
        assert after == before + 1
        refused = counter(
            "coredns_dns_responses_total", server=label, zone="dropped", rcode="REFUSED"
        )
        assert refused >= 1
