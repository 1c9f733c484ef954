"""forward against upstreams that fail: silent, REFUSED, truncating, dead among healthy ones,
all dead behind `cache { serve_stale }`, and too slow for `max_concurrent`. In-process fake
upstreams (plugins/forward/testing.py), kdns over real sockets, rcodes as CoreDNS gives them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dnslib

from kdns.plugins.forward.metrics import HEALTHCHECK_FAILURES, MAX_CONCURRENT_REJECTS
from kdns.plugins.forward.testing import FakeUpstream, dead_port
from kdns.runtime.testing import free_port, query, running


def block(port: int, upstreams: str, options: str = "", before: str = "") -> str:
    """A server block forwarding everything to `upstreams` with forward `options`."""
    return f".:{port} {{\n{before}    forward . {upstreams} {{\n{options}    }}\n}}\n"


def addresses(reply: dns.message.Message) -> set[str]:
    """The A data of a reply."""
    return {rd.to_text() for rrset in reply.answer for rd in rrset}


def answer_with(ip: str, ttl: int = 60) -> object:
    """An upstream answering `A ip` for every name."""

    def answer(q: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = q.reply()
        reply.add_answer(dnslib.RR(q.q.qname, dnslib.QTYPE.A, rdata=dnslib.A(ip), ttl=ttl))
        return reply

    return answer


def rcode_only(code: int) -> object:
    """An upstream answering every query with `code` and no records."""

    def answer(q: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = q.reply()
        reply.header.rcode = code
        return reply

    return answer


def silent(q: dnslib.DNSRecord, proto: str) -> None:
    """An upstream that never answers."""
    return None


def truncating(q: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
    """An upstream whose UDP replies are truncated (TC, no records); TCP gets 20 addresses."""
    reply = q.reply()
    if proto == "udp":
        reply.header.tc = 1
        return reply
    for i in range(20):
        reply.add_answer(dnslib.RR(q.q.qname, dnslib.QTYPE.A, rdata=dnslib.A(f"10.7.0.{i}")))
    return reply


async def test_silent_upstream_is_servfail_after_the_read_timeout() -> None:
    """An upstream that never answers: SERVFAIL once the 2 s read timeout passed (one
    attempt), not a client timeout."""
    async with FakeUpstream(silent) as up:  # type: ignore[arg-type]
        port = free_port()
        async with running(block(port, up.addr, "        max_connect_attempts 1\n")):
            start = time.monotonic()
            reply = await query(port, "slow.test", timeout=5)
            took = time.monotonic() - start
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert 1.9 <= took < 4
    assert up.seen[0].qname == "slow.test."  # then the health checks' `. NS`


async def test_all_upstreams_dead_is_servfail_without_holding_the_loop() -> None:
    """Every upstream refusing at once (a closed local port): forward retries them until
    the health checks take them all out (about 1 s: three failed checks 0.5 s apart), then
    SERVFAIL, over UDP and TCP. The retries must not hold the event loop (they did: a
    5-second stall of every query, health checks included, until the overall deadline)."""
    dead = " ".join(f"127.0.0.1:{dead_port()}" for _ in range(3))
    port = free_port()
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    async with running(block(port, dead)):
        ticker = asyncio.create_task(tick())
        try:
            for tcp in (False, True):
                start = time.monotonic()
                reply = await query(port, "a.test", tcp=tcp, timeout=6)
                assert reply.rcode() == dns.rcode.SERVFAIL
                assert time.monotonic() - start < 2.5
        finally:
            ticker.cancel()
    assert max(gaps) < 0.3


async def test_refused_is_passed_through_unless_failover() -> None:
    """An upstream's REFUSED reaches the client as it is (CoreDNS); with `failover REFUSED`
    the next upstream is asked instead."""
    async with (
        FakeUpstream(rcode_only(dnslib.RCODE.REFUSED)) as refusing,  # type: ignore[arg-type]
        FakeUpstream(answer_with("10.7.1.1")) as good,  # type: ignore[arg-type]
    ):
        ups = f"{refusing.addr} {good.addr}"
        port = free_port()
        async with running(block(port, ups, "        policy sequential\n")):
            assert (await query(port, "r.test")).rcode() == dns.rcode.REFUSED
        port = free_port()
        opts = "        policy sequential\n        failover REFUSED\n"
        async with running(block(port, ups, opts)):
            reply = await query(port, "r.test")
            assert (reply.rcode(), addresses(reply)) == (dns.rcode.NOERROR, {"10.7.1.1"})


async def test_truncated_reply() -> None:
    """A truncated UDP reply reaches a UDP client with TC set, so it retries over TCP, which
    forward asks over TCP; with `prefer_udp` a TCP client's query goes over UDP first and
    forward itself retries it over TCP."""
    async with FakeUpstream(truncating) as up:  # type: ignore[arg-type]
        port = free_port()
        async with running(block(port, up.addr)):
            udp = await query(port, "big.test")
            assert udp.flags & dns.flags.TC
            assert not udp.answer
            msg = dns.message.make_query("big.test", "A")
            full, used_tcp = await dns.asyncquery.udp_with_fallback(
                msg, "127.0.0.1", port=port, timeout=3
            )
            assert used_tcp
            assert len(addresses(full)) == 20
        assert [s.proto for s in up.seen] == ["udp", "udp", "tcp"]
        up.seen.clear()
        port = free_port()
        async with running(block(port, up.addr, "        prefer_udp\n")):
            reply = await query(port, "big.test", tcp=True)
            assert len(addresses(reply)) == 20
        assert [s.proto for s in up.seen] == ["udp", "tcp"]


async def test_dead_upstream_taken_out_and_put_back() -> None:
    """A dead first upstream among healthy ones: queries still answer (from the second), the
    health checks fail until it is out (not asked any more), and once it answers again the
    health check puts it back and it answers first."""
    hole = dead_port()
    async with FakeUpstream(answer_with("10.7.2.2")) as second:  # type: ignore[arg-type]
        port = free_port()
        opts = "        policy sequential\n        max_fails 2\n        health_check 50ms\n"
        labels = ("forward", f"127.0.0.1:{hole}")
        before = HEALTHCHECK_FAILURES.get(labels)
        async with running(block(port, f"127.0.0.1:{hole} {second.addr}", opts)):
            assert addresses(await query(port, "h.test")) == {"10.7.2.2"}
            async with asyncio.timeout(3):
                while HEALTHCHECK_FAILURES.get(labels) < before + 3:  # > max_fails: down
                    await asyncio.sleep(0.01)
            for _ in range(10):
                assert addresses(await query(port, "h.test")) == {"10.7.2.2"}
            first = FakeUpstream(answer_with("10.7.2.1"))  # type: ignore[arg-type]
            await first.start(hole)
            try:
                async with asyncio.timeout(3):
                    while addresses(await query(port, "h.test")) != {"10.7.2.1"}:
                        await asyncio.sleep(0.02)
                stopped = HEALTHCHECK_FAILURES.get(labels)
                await asyncio.sleep(0.2)
                assert HEALTHCHECK_FAILURES.get(labels) == stopped  # checks ended
                assert addresses(await query(port, "h.test")) == {"10.7.2.1"}
            finally:
                await first.stop()


async def test_serve_stale_answers_while_every_upstream_is_dead() -> None:
    """`cache { serve_stale }`: an expired answer is served (TTL 0) when the upstream is
    gone; a name never cached is SERVFAIL."""
    up = FakeUpstream(answer_with("10.7.3.3", ttl=1))  # type: ignore[arg-type]
    await up.start()
    port = free_port()
    cache = "    cache 30 {\n        success 1000 30 1\n        serve_stale\n    }\n"
    opts = "        max_connect_attempts 1\n"
    async with running(block(port, up.addr, opts, before=cache)):
        assert addresses(await query(port, "stale.test")) == {"10.7.3.3"}
        await up.stop()
        await asyncio.sleep(1.2)  # the one-second TTL runs out
        for _ in range(3):
            reply = await query(port, "stale.test")
            assert (reply.rcode(), addresses(reply)) == (dns.rcode.NOERROR, {"10.7.3.3"})
            assert reply.answer[0].ttl == 0
        assert (await query(port, "never.test", timeout=5)).rcode() == dns.rcode.SERVFAIL


def rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def flood(port: int, count: int, timeout: float = 5.0) -> dict[str, int]:
    """Send `count` queries at once from one UDP socket; return the rcodes seen (and
    "lost")."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.connect(("127.0.0.1", port))
    seen: dict[str, int] = {}
    try:
        for i in range(count):
            await loop.sock_sendall(sock, dnslib.DNSRecord.question(f"q{i}.flood.test").pack())
        async with asyncio.timeout(timeout):
            for _ in range(count):
                data = await loop.sock_recv(sock, 4096)
                name = dns.rcode.to_text(dns.rcode.Rcode(data[3] & 0xF))
                seen[name] = seen.get(name, 0) + 1
    except TimeoutError:
        pass
    finally:
        sock.close()
    seen["lost"] = count - sum(seen.values())
    return seen


async def test_max_concurrent_sheds_with_refused_and_memory_stays_flat() -> None:
    """A flood at a slow upstream with `max_concurrent 20`: the excess is REFUSED at once
    (counted), nothing is lost, and three more floods do not grow memory."""
    async with FakeUpstream(answer_with("10.7.4.4"), delay=0.3) as slow:  # type: ignore[arg-type]
        port = free_port()
        async with running(block(port, slow.addr, "        max_concurrent 20\n")):
            rejects = MAX_CONCURRENT_REJECTS.get(())
            first = await flood(port, 1000)
            assert first["lost"] == 0
            assert set(first) <= {"NOERROR", "REFUSED", "lost"}
            assert 20 <= first.get("NOERROR", 0) <= 100
            assert first["REFUSED"] >= 900
            assert MAX_CONCURRENT_REJECTS.get(()) - rejects == first["REFUSED"]
            warm = rss()
            for _ in range(3):
                more = await flood(port, 1000)
                assert more["lost"] == 0
            assert rss() - warm < 8 * 1024 * 1024
