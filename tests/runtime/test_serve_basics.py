"""A running server over real sockets: routing by zone, REFUSED, FORMERR, EDNS, TCP."""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask


async def test_whoami_over_udp_and_tcp_keeps_the_question_case() -> None:
    """whoami answers with the client's address; the question comes back as asked."""
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        for tcp in (False, True):
            reply = await ask(port, "Example.ORG", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.flags & dns.flags.AA
            assert str(reply.question[0].name) == "Example.ORG."
            address = [rrs for rrs in reply.additional if rrs.rdtype == dns.rdatatype.A]
            assert address[0][0].address == "127.0.0.1"
            srv = next(rrs for rrs in reply.additional if rrs.rdtype == dns.rdatatype.SRV)
            assert str(srv.name) == ("_tcp." if tcp else "_udp.") + "Example.ORG."


async def test_longest_zone_wins_and_unknown_zone_is_refused() -> None:
    """Blocks sharing a port split names by zone; a name in no zone gets REFUSED."""
    port = free_port()
    corefile = f"example.org:{port} {{\n    whoami\n}}\nsub.example.org:{port} {{\n}}\n"
    async with running(corefile):
        assert (await ask(port, "www.example.org")).rcode() == dns.rcode.NOERROR
        # the sub zone has no plugins: REFUSED, not the parent's answer
        assert (await ask(port, "www.sub.example.org")).rcode() == dns.rcode.REFUSED
        assert (await ask(port, "example.com")).rcode() == dns.rcode.REFUSED


async def test_root_zone_catches_everything_else() -> None:
    """`.` serves names no other block claims."""
    port = free_port()
    async with running(f"example.org:{port} {{\n}}\n.:{port} {{\n    whoami\n}}\n"):
        assert (await ask(port, "example.com")).rcode() == dns.rcode.NOERROR


async def test_non_in_class_is_refused_without_chaos_or_forward() -> None:
    """CH queries are REFUSED unless a block on the listener serves other classes."""
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        reply = await ask(port, "version.bind", "TXT", rdclass="CH")
        assert reply.rcode() == dns.rcode.REFUSED


async def test_edns_is_echoed_and_badvers_for_version_1() -> None:
    """OPT comes back when the client sent one; EDNS version 1 gets BADVERS."""
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        assert (await ask(port, "a.example", use_edns=0)).edns == 0
        assert (await ask(port, "a.example", use_edns=False)).edns == -1
        reply = await ask(port, "a.example", use_edns=1)
        assert reply.rcode() == dns.rcode.BADVERS


def udp_exchange(port: int, payload: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.sendto(payload, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


async def test_malformed_packets_get_formerr_or_are_dropped_and_server_survives() -> None:
    """A readable header gets FORMERR; shorter junk is dropped; service goes on."""
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        loop = asyncio.get_running_loop()
        header = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0)
        reply = await loop.run_in_executor(None, udp_exchange, port, header + b"\x07garbage")
        assert reply is not None
        ident, flags = struct.unpack("!HH", reply[:4])
        assert ident == 0xBEEF
        assert flags & 0x8000
        assert flags & 0xF == dns.rcode.FORMERR
        assert await loop.run_in_executor(None, udp_exchange, port, b"\x01\x02\x03") is None
        assert (await ask(port, "still.alive")).rcode() == dns.rcode.NOERROR


async def test_tcp_carries_several_queries_on_one_connection() -> None:
    """Pipelined queries on one TCP connection are all answered."""
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ids = []
        for i in range(5):
            query = dns.message.make_query(f"q{i}.example", "A")
            ids.append(query.id)
            wire = query.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        seen = []
        for _ in ids:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            seen.append(dns.message.from_wire(await reader.readexactly(length)).id)
        writer.close()
        assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_unbound_block_listens_on_ipv4_and_ipv6(host: str) -> None:
    """A block without bind answers on every address, both families."""
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        assert (await ask(port, "x.example", host=host)).rcode() == dns.rcode.NOERROR
