"""cache in front of whoami over real sockets: what a client sees on a miss and on a hit.

whoami answers with TTL 0 records, so CoreDNS's rules make the cached item live for the minimum
TTL (5s) and every record of both replies carries that TTL; the hit is the first client's
answer (its address and port), whoever asks next.
"""

from __future__ import annotations

import asyncio
import socket

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from kdns.plugins.cache import Cache, query_key
from kdns.plugins.cache.metrics import HITS, MISSES, REQUESTS
from kdns.runtime.server import Server
from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask


def corefile(port: int, directive: str = "cache") -> str:
    return f".:{port} {{\n    {directive}\n    whoami\n}}\n"


def the_cache(server: Server) -> Cache:
    assert server.current is not None
    return next(h for h in server.current.handlers if isinstance(h, Cache))


def srv_port(reply: dns.message.Message) -> tuple[str, int]:
    rrset = next(r for r in reply.additional if r.rdtype == dns.rdatatype.SRV)
    return str(rrset.name), rrset[0].port


def record_ttls(reply: dns.message.Message) -> list[int]:
    return [r.ttl for r in reply.answer + reply.authority + reply.additional]


def exchange_raw(port: int, wire: bytes) -> tuple[bytes, int]:
    """Send raw bytes over UDP; return the reply and the client port used."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(wire, ("127.0.0.1", port))
        return sock.recv(65535), sock.getsockname()[1]


async def test_second_client_gets_the_first_clients_answer_with_the_minimum_ttl() -> None:
    port = free_port()
    async with running(corefile(port)):
        first = await ask(port, "who.example")
        second = await ask(port, "who.example")
        assert first.rcode() == second.rcode() == dns.rcode.NOERROR
        assert srv_port(second) == srv_port(first)  # the port of the client that missed
        assert record_ttls(first) == [5, 5]  # whoami's TTL 0, raised to the 5s minimum
        assert all(4 <= ttl <= 5 for ttl in record_ttls(second))
        assert second.flags & dns.flags.AA  # the cached reply's AA, as whoami set it
        # the transport is not part of the key: TCP gets the UDP client's cached answer
        over_tcp = await ask(port, "who.example", tcp=True)
        assert srv_port(over_tcp) == srv_port(first)
        assert srv_port(over_tcp)[0].startswith("_udp.")


async def test_hit_echoes_the_question_case_and_keeps_the_cached_record_case() -> None:
    port = free_port()
    async with running(corefile(port)):
        await ask(port, "case.example")
        shouted = await ask(port, "CASE.Example")
        assert str(shouted.question[0].name) == "CASE.Example."
        assert srv_port(shouted)[0] == "_udp.case.example."


async def test_dnssec_ok_and_plain_clients_are_cached_apart() -> None:
    port = free_port()
    async with running(corefile(port)):
        plain = await ask(port, "do.example", use_edns=0)
        secure = await ask(port, "do.example", use_edns=0, want_dnssec=True)
        assert srv_port(plain) != srv_port(secure)  # the DO query missed: whoami answered it
        assert secure.ednsflags & dns.flags.DO
        again = await ask(port, "do.example", use_edns=False)
        assert srv_port(again) == srv_port(plain)
        assert again.edns == -1  # no OPT for a client that sent none, though the miss had one


async def test_fast_answer_is_what_the_server_sends_and_metrics_count_hits() -> None:
    port = free_port()
    async with running(corefile(port, "cache 30")) as server:
        cache = the_cache(server)
        labels = (cache.server, ".", "")
        before = [
            REQUESTS.get(labels),
            MISSES.get(labels),
            HITS.get((cache.server, "success", ".", "")),
        ]
        loop = asyncio.get_running_loop()
        query = dns.message.make_query("Fast.Example", "A", use_edns=0).to_wire()
        missed, first_port = await loop.run_in_executor(None, exchange_raw, port, query)
        hit, _ = await loop.run_in_executor(None, exchange_raw, port, query)
        key = query_key(query)
        assert key is not None
        assert cache.fast_answer(key, query, cache.clock()) == hit == missed
        reply = dns.message.from_wire(hit)
        assert srv_port(reply) == ("_udp.Fast.Example.", first_port)
        after = [
            REQUESTS.get(labels),
            MISSES.get(labels),
            HITS.get((cache.server, "success", ".", "")),
        ]
        assert [a - b for a, b in zip(after, before, strict=True)] == [3, 1, 2]
