"""UDP in batches (runtime/mmsg.py): a queue of datagrams read with one call still gets every
reply, each to the socket that asked, whichever path answers it."""

from __future__ import annotations

import asyncio
import socket

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kdns.runtime import mmsg
from kdns.runtime.testing import free_port, query, running

COREFILE = """\
.:{port} {{
    bind {host}
    cache 30
    hosts {{
        10.0.0.1 web.example.org
        fallthrough
    }}
    whoami
}}
"""


def test_linux_serves_udp_in_batches() -> None:
    """The machines kdns runs on (Linux) have recvmmsg: the tests here use the batch path."""
    assert mmsg.AVAILABLE


def _burst(port: int, host: str, clients: int, per_client: int) -> dict[int, list[bytes]]:
    """Send every query of every client before reading any reply; return the replies by
    client. The server finds many datagrams queued at once: its batches fill."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(clients)]
    try:
        for c, sock in enumerate(socks):
            sock.connect((host, port))
            for q in range(per_client):
                # a name the cache and hosts answer, and one only whoami (the chain) answers
                name = "web.example.org." if q % 2 else f"who{q}.example.org."
                msg = dns.message.make_query(name, "A")
                msg.id = c * 1000 + q
                sock.send(msg.to_wire())
        replies: dict[int, list[bytes]] = {}
        for c, sock in enumerate(socks):
            sock.settimeout(5)
            replies[c] = [sock.recv(4096) for _ in range(per_client)]
        return replies
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_a_burst_gets_every_reply_at_its_own_socket(host: str) -> None:
    if host == "::1" and not socket.has_ipv6:
        pytest.fail("this machine has no IPv6 loopback")
    port = free_port()
    async with running(COREFILE.format(port=port, host=host)):
        await query(port, "web.example.org", host=host)  # the cache holds it: the fast path
        replies = await asyncio.to_thread(_burst, port, host, 8, 40)
    for c, got in replies.items():
        ids = sorted(dns.message.from_wire(r).id for r in got)
        assert ids == [c * 1000 + q for q in range(40)]
        for wire in got:
            reply = dns.message.from_wire(wire)
            assert reply.rcode() == dns.rcode.NOERROR
            name = str(reply.question[0].name)
            if name == "web.example.org.":
                assert [rr.address for rr in reply.answer[0]] == ["10.0.0.1"]
            else:  # whoami: the client's own address, seen through the chain
                assert reply.additional[0][0].address == host


async def test_a_query_longer_than_the_read_buffer_is_formerr() -> None:
    """A datagram longer than any DNS query needs is cut by the kernel; it gets FORMERR with
    its ID rather than an answer to half a message."""
    port = free_port()
    async with running(COREFILE.format(port=port, host="127.0.0.1")):
        msg = dns.message.make_query("web.example.org", "A", use_edns=0)
        wire = msg.to_wire() + b"\0" * mmsg.SIZE
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            sock.sendto(wire, ("127.0.0.1", port))
            reply = await asyncio.to_thread(sock.recv, 4096)
    assert reply[:2] == wire[:2]
    assert reply[3] & 0xF == dns.rcode.FORMERR
