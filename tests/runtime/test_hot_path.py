"""The hot path: a query asked again byte for byte (ID aside) gets the fast path's reply again.

It must send what the fast path (and so the chain) sends, with the client's ID; count every
answer in the metrics as if each had taken the fast path; follow the cache's TTL as it ticks
down; and rotate loadbalance's orders rather than freeze one.
"""

from __future__ import annotations

import asyncio
import struct

import dns.message
import dns.rcode

from kdns.runtime.server import Server
from kdns.runtime.testing import free_port, running

from .test_fast_path import counter, normalised, set_fast

COREFILE = """\
.:{port} {{
    errors
    prometheus 127.0.0.1:{metrics}
    loadbalance
    cache 30
    hosts {{
        10.0.0.1 web.example.org
        10.0.0.2 web.example.org
        10.0.0.3 web.example.org
        10.0.0.9 one.example.org
        ttl 60
    }}
}}
"""


def hot_entries(server: Server) -> int:
    assert server.current is not None
    return sum(
        len(m.hot_udp.entries) + len(m.hot_tcp.entries) for m in server.current.muxes.values()
    )


async def same_bytes(port: int, wire: bytes, ident: int, *, tcp: bool = False) -> bytes:
    """Send `wire` with another ID and return the reply's bytes."""
    query = struct.pack("!H", ident) + wire[2:]
    if tcp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(struct.pack("!H", len(query)) + query)
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        data = await reader.readexactly(length)
        writer.close()
        return data
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Receiver(), remote_addr=("127.0.0.1", port)
    )
    try:
        transport.sendto(query)
        return await asyncio.wait_for(protocol.reply, 3)
    finally:
        transport.close()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.reply.done():
            self.reply.set_result(data)


async def test_hot_replies_carry_the_clients_id_and_the_fast_paths_bytes() -> None:
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)) as server:
        for tcp in (False, True):
            wire = dns.message.make_query("one.example.org", "A", id=1).to_wire()
            await same_bytes(port, wire, 1, tcp=tcp)  # the chain; the cache stores it
            fast = await same_bytes(port, wire, 2, tcp=tcp)  # the fast path; kept as hot
            before = hot_entries(server)
            for ident in range(3, 8):
                hot = await same_bytes(port, wire, ident, tcp=tcp)
                assert struct.unpack("!H", hot[:2])[0] == ident
                assert normalised(hot) == normalised(fast)
            assert hot_entries(server) == before >= 1
            set_fast(server, False)
            chain = await same_bytes(port, wire, 9, tcp=tcp)
            set_fast(server, True)
            assert normalised(chain) == normalised(hot)


async def test_every_hot_answer_is_counted() -> None:
    """Answers sent from hot entries count a request, a response by cache and a cache hit
    each, exactly as fast-path answers do."""
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)):
        label = f"dns://:{port}"
        wire = dns.message.make_query("one.example.org", "A").to_wire()
        await same_bytes(port, wire, 1)
        await same_bytes(port, wire, 2)
        before = (
            counter("coredns_dns_requests_total", server=label),
            counter("coredns_dns_responses_total", server=label, plugin="cache"),
            counter("coredns_cache_hits_total", server=label),
        )
        for ident in range(10, 60):
            await same_bytes(port, wire, ident)
        after = (
            counter("coredns_dns_requests_total", server=label),
            counter("coredns_dns_responses_total", server=label, plugin="cache"),
            counter("coredns_cache_hits_total", server=label),
        )
        assert [b - a for a, b in zip(before, after, strict=True)] == [50, 50, 50]


async def test_hot_answers_follow_the_cache_ttl() -> None:
    """A cached answer's TTL ticks down once a second, on the hot path too."""
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)):
        wire = dns.message.make_query("one.example.org", "A").to_wire()
        await same_bytes(port, wire, 1)
        first = dns.message.from_wire(await same_bytes(port, wire, 2))
        await asyncio.sleep(1.2)
        later = dns.message.from_wire(await same_bytes(port, wire, 3))
        assert first.answer[0].ttl - later.answer[0].ttl in (1, 2)


async def test_loadbalance_orders_rotate_on_the_hot_path() -> None:
    """Three addresses behind loadbalance: the first one still varies from query to query."""
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)):
        wire = dns.message.make_query("web.example.org", "A").to_wire()
        firsts = set()
        for ident in range(40):
            reply = dns.message.from_wire(await same_bytes(port, wire, ident))
            assert reply.rcode() == dns.rcode.NOERROR
            assert len(reply.answer[0]) == 3
            firsts.add(next(iter(reply.answer[0])).address)
        assert len(firsts) >= 2


async def test_a_hot_cache_hit_outlives_its_ttl_tick_with_the_ttl_rewritten() -> None:
    """When the TTL ticks down, the hot entry stays and carries the new TTL (the same bytes the
    chain's hit gives); it goes once the cache entry expires or goes. An entry with
    loadbalance's shuffled copies is built again instead, with new orders."""
    port, metrics = free_port(), free_port()
    async with running(COREFILE.format(port=port, metrics=metrics)) as server:
        assert server.current is not None
        mux = next(iter(server.current.muxes.values()))
        cache = mux.wire_routes[b"\x00"].fast[0]
        now = [1000.0]
        cache.clock = lambda: now[0]  # type: ignore[attr-defined]
        remote = ("127.0.0.1", 5353)
        wire = dns.message.make_query("one.example.org", "A").to_wire()
        await same_bytes(port, wire, 1)  # the chain stores it with TTL 30
        assert mux.fast(wire, "udp", remote) is not None
        entry = mux.hot_udp.entries[wire[2:]]

        def ttls() -> set[int]:
            seen = set()
            for _ in range(3):
                reply = mux.fast(wire, "udp", remote)
                assert reply is not None
                seen |= {rrset.ttl for rrset in dns.message.from_wire(reply).answer}
            return seen

        assert ttls() == {30}
        now[0] += 1.5
        assert ttls() == {29}
        assert mux.hot_udp.entries[wire[2:]] is entry  # renewed, not built again
        set_fast(server, False)
        chain = dns.message.from_wire(await same_bytes(port, wire, 2))
        set_fast(server, True)
        assert chain.answer[0].ttl == 29
        now[0] += 29
        assert mux.fast(wire, "udp", remote) is None  # expired: the chain asks hosts again
        assert wire[2:] not in mux.hot_udp.entries
        await same_bytes(port, wire, 3)  # stored again
        assert mux.fast(wire, "udp", remote) is not None
        entry = mux.hot_udp.entries[wire[2:]]
        for bucket in (cache.success, cache.denial):  # type: ignore[attr-defined]
            for key in list(bucket):
                bucket.remove(key)
        now[0] += 1
        assert mux.fast(wire, "udp", remote) is None  # the cache let it go: so does the hot path

        many = dns.message.make_query("web.example.org", "A").to_wire()
        await same_bytes(port, many, 4)
        assert mux.fast(many, "udp", remote) is not None
        shuffled = mux.hot_udp.entries[many[2:]]
        assert len(shuffled.variants) > 1
        now[0] += 1
        assert mux.fast(many, "udp", remote) is not None
        assert mux.hot_udp.entries[many[2:]] is not shuffled  # new copies, new orders
