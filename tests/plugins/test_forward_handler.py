"""forward: the handler against programmable upstreams on 127.0.0.1 (matching, policies,
transports, health, limits, next/failover, reply checks, connection reuse)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import dnslib
import pytest

from kdns.plugins.base import NOERROR, REFUSED, Handler, PluginError
from kdns.plugins.forward import Forward, doh
from kdns.plugins.forward.metrics import (
    CONN_CACHE_HITS,
    CONN_CACHE_MISSES,
    HEALTHCHECK_BROKEN,
    HEALTHCHECK_FAILURES,
    MAX_CONCURRENT_REJECTS,
    REQUEST_DURATION,
)
from kdns.plugins.forward.pool import ConnPool, StreamConn
from kdns.plugins.forward.testing import FakeUpstream, dead_port, default_answer
from kdns.plugins.testing import StubHandler, build, make_request, run


def dead_addr() -> str:
    """Return 127.0.0.1:PORT where nothing listens."""
    return f"127.0.0.1:{dead_port()}"


@contextlib.asynccontextmanager
async def started(text: str, nxt: Handler | None = None) -> AsyncIterator[Forward]:
    handler = build(text, nxt, keys=".")
    assert isinstance(handler, Forward)
    await handler.start()
    try:
        yield handler
    finally:
        await handler.stop()


def answer_ip(w_reply: dnslib.DNSRecord) -> str:
    return str(w_reply.rr[0].rdata)


def fixed(ip: str) -> FakeUpstream:
    """An upstream answering every A query with `ip`."""

    def answer(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = query.reply()
        reply.add_answer(dnslib.RR(query.q.qname, rdata=dnslib.A(ip), ttl=30))
        return reply

    return FakeUpstream(answer)


async def test_reply_is_written_as_the_upstream_sent_it() -> None:
    """The answer, TTL and rcode come from upstream; NXDOMAIN is written and returns 0."""
    async with FakeUpstream() as up, started(f"forward . {up.addr}") as fwd:
        rcode, w = await run(fwd, make_request("Www.Example.org", "A"))
        assert rcode == NOERROR
        assert w.reply.header.rcode == 0
        assert str(w.reply.rr[0].rname) == "Www.Example.org."
        assert (answer_ip(w.reply), w.reply.rr[0].ttl) == ("10.0.0.1", 60)
        req = make_request("nx.example.org", "A")
        rcode, w = await run(fwd, req)
        assert (rcode, w.reply.header.rcode, req.answered_by) == (NOERROR, 3, "forward")
        assert w.reply.header.id == req.id
        labels = ("forward", up.addr, "NXDOMAIN")
        assert sum(REQUEST_DURATION.counts[labels]) == 1


@pytest.mark.parametrize(
    ("directive", "qname", "forwarded"),
    [
        ("forward example.org {up}", "www.example.org", True),
        ("forward example.org {up}", "example.org", True),
        ("forward example.org {up}", "www.example.com", False),
        ("forward example.org {up}", "badexample.org", False),
        ("forward . {up} {{\nexcept example.com\n}}", "a.example.com", False),
        ("forward . {up} {{\nexcept example.com\n}}", "example.com", False),
        ("forward . {up} {{\nexcept example.com\n}}", "example.net", True),
        ("forward example.com {up} {{\nexcept example.com\n}}", "example.com", True),
        ("forward example.com {up} {{\nexcept example.com\n}}", "x.example.com", False),
    ],
)
async def test_from_and_except_decide_what_is_forwarded(
    directive: str, qname: str, forwarded: bool
) -> None:
    """Queries outside FROM or below an except name go to the next plugin."""
    stub = StubHandler(answers=("x. 1 IN A 192.0.2.1",))
    async with FakeUpstream() as up, started(directive.format(up=up.addr), stub) as fwd:
        await run(fwd, make_request(qname, "A"))
        assert (len(up.seen), len(stub.calls)) == ((1, 0) if forwarded else (0, 1))


async def test_sequential_round_robin_and_random_policies() -> None:
    """sequential always asks the first; round_robin starts with the second and rotates;
    random spreads over both."""
    async with fixed("10.0.0.1") as a, fixed("10.0.0.2") as b:
        seen: dict[str, list[str]] = {}
        for policy in ("sequential", "round_robin", "random"):
            text = f"forward . {a.addr} {b.addr} {{\npolicy {policy}\n}}"
            async with started(text) as fwd:
                seen[policy] = [
                    answer_ip((await run(fwd, make_request(f"q{i}.test")))[1].reply)
                    for i in range(40)
                ]
        assert set(seen["sequential"]) == {"10.0.0.1"}
        assert seen["round_robin"][:4] == ["10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.1"]
        assert set(seen["random"]) == {"10.0.0.1", "10.0.0.2"}


@pytest.mark.parametrize(
    ("options", "client", "upstream"),
    [
        ("", "udp", "udp"),
        ("", "tcp", "tcp"),
        ("force_tcp", "udp", "tcp"),
        ("prefer_udp", "tcp", "udp"),
        ("force_tcp\nprefer_udp", "udp", "tcp"),
    ],
)
async def test_transport_follows_the_client_unless_told(
    options: str, client: str, upstream: str
) -> None:
    async with FakeUpstream() as up, started(f"forward . {up.addr} {{\n{options}\n}}") as fwd:
        await run(fwd, make_request("a.test", proto=client))  # type: ignore[arg-type]
        assert [s.proto for s in up.seen] == [upstream]


async def test_prefer_udp_retries_over_tcp_when_truncated() -> None:
    def answer(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = default_answer(query, proto)
        if proto == "udp":
            reply.rr = []
            reply.header.tc = 1
        return reply

    async with FakeUpstream(answer) as up:
        async with started(f"forward . {up.addr} {{\nprefer_udp\n}}") as fwd:
            _, w = await run(fwd, make_request("a.test"))
            assert [s.proto for s in up.seen] == ["udp", "tcp"]
            assert (w.reply.header.tc, answer_ip(w.reply)) == (0, "10.0.0.1")
        up.seen.clear()
        async with started(f"forward . {up.addr}") as fwd:  # without: the client retries
            _, w = await run(fwd, make_request("a.test"))
            assert ([s.proto for s in up.seen], w.reply.header.tc, w.reply.rr) == (["udp"], 1, [])


async def test_reply_too_big_for_the_client_comes_back_truncated() -> None:
    def answer(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = query.reply()
        for i in range(60):
            reply.add_answer(dnslib.RR(query.q.qname, rdata=dnslib.A(f"10.0.1.{i}")))
        return reply

    async with FakeUpstream(answer) as up, started(f"forward . {up.addr}") as fwd:
        _, w = await run(fwd, make_request("big.test"))  # no EDNS: 512 bytes at most
        assert (w.reply.header.tc, w.reply.rr, str(w.reply.q.qname)) == (1, [], "big.test.")
        _, w = await run(fwd, make_request("big.test", bufsize=4096))
        assert (w.reply.header.tc, len(w.reply.rr)) == (0, 60)


async def test_wrong_question_is_formerr_and_wrong_id_is_ignored() -> None:
    def other_question(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = dnslib.DNSRecord.question("other.test", "A").reply()
        reply.header.id = query.header.id
        return reply

    async with FakeUpstream(other_question) as up, started(f"forward . {up.addr}") as fwd:
        rcode, w = await run(fwd, make_request("a.test"))
        assert (rcode, w.reply.header.rcode, str(w.reply.q.qname)) == (NOERROR, 1, "a.test.")

    def wrong_id(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = default_answer(query, proto)
        reply.header.id = (query.header.id + 1) % 65536
        return reply

    text = "forward . {} {{\nread_timeout 50ms\nmax_connect_attempts 1\n}}"
    async with FakeUpstream(wrong_id) as up, started(text.format(up.addr)) as fwd:
        with pytest.raises(PluginError, match=r"plugin/forward: read udp .*: i/o timeout"):
            await run(fwd, make_request("a.test"))


async def test_case_of_the_question_may_differ_in_the_reply() -> None:
    def upper(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = default_answer(query, proto)
        reply.q.qname = dnslib.DNSLabel(str(query.q.qname).upper())
        return reply

    async with FakeUpstream(upper) as up, started(f"forward . {up.addr}") as fwd:
        rcode, w = await run(fwd, make_request("a.test"))
        assert (rcode, w.reply.header.rcode) == (NOERROR, 0)


async def test_network_errors_are_plugin_errors_and_trigger_health_checks() -> None:
    dead = dead_addr()
    text = f"forward . {dead} {{\nmax_connect_attempts 2\nhealth_check 10ms\n}}"
    async with started(text) as fwd:
        with pytest.raises(PluginError, match=r"^plugin/forward: read udp .*connection refused"):
            await run(fwd, make_request("a.test"))
        for _ in range(200):
            if fwd.proxies[0].down(fwd.max_fails):
                break
            await asyncio.sleep(0.01)
        assert fwd.proxies[0].fails > 2
        assert HEALTHCHECK_FAILURES.get(("forward", dead)) >= 3


async def test_dead_upstream_is_taken_out_and_comes_back() -> None:
    """A dead first upstream is skipped once down; when it answers again it is used again."""
    dead = dead_addr()
    _host, port = dead.rsplit(":", 1)
    async with fixed("10.0.0.2") as good:
        text = f"forward . {dead} {good.addr} {{\npolicy sequential\nhealth_check 20ms\n}}"
        async with started(text) as fwd:
            _, w = await run(fwd, make_request("a.test"))
            assert answer_ip(w.reply) == "10.0.0.2"  # the dead one failed, the next answered
            first = fwd.proxies[0]
            for _ in range(300):
                if first.down(fwd.max_fails):
                    break
                await asyncio.sleep(0.01)
            assert first.down(fwd.max_fails)
            good.seen.clear()
            _, w = await run(fwd, make_request("b.test"))
            assert (answer_ip(w.reply), len(good.seen)) == ("10.0.0.2", 1)
            revived = fixed("10.0.0.1")
            await revived.start(int(port))
            try:
                for _ in range(300):
                    if first.fails == 0:
                        break
                    await asyncio.sleep(0.01)
                _, w = await run(fwd, make_request("c.test"))
                assert answer_ip(w.reply) == "10.0.0.1"
            finally:
                await revived.stop()


async def test_all_down_picks_one_at_random_or_fails_fast() -> None:
    async with FakeUpstream() as up:
        before = HEALTHCHECK_BROKEN.get()
        async with started(f"forward . {up.addr}") as fwd:
            fwd.proxies[0].fails = 99  # marked down, yet it is asked: checks must be broken
            rcode, w = await run(fwd, make_request("a.test"))
            assert (rcode, answer_ip(w.reply)) == (NOERROR, "10.0.0.1")
        assert HEALTHCHECK_BROKEN.get() == before + 1
        text = f"forward . {up.addr} {{\nfailfast_all_unhealthy_upstreams\n}}"
        async with started(text) as fwd:
            fwd.proxies[0].fails = 99
            with pytest.raises(PluginError, match="no healthy proxies"):
                await run(fwd, make_request("a.test"))
        async with started(f"forward . {up.addr} {{\nmax_fails 0\n}}") as fwd:
            fwd.proxies[0].fails = 99  # max_fails 0: never down
            assert (await run(fwd, make_request("a.test")))[0] == NOERROR
        assert HEALTHCHECK_BROKEN.get() == before + 2


async def test_max_concurrent_refuses_the_excess() -> None:
    """Over the limit: REFUSED with nothing written, and the error CoreDNS reports."""

    async def attempt(fwd: Handler, name: str) -> tuple[int, int, str]:
        try:
            rcode, w = await run(fwd, make_request(name))
        except PluginError as exc:
            return exc.rcode, 0, str(exc)
        return rcode, len(w.replies), ""

    async with FakeUpstream(delay=0.2) as up:
        before = MAX_CONCURRENT_REJECTS.get()
        async with started(f"forward . {up.addr} {{\nmax_concurrent 2\n}}") as fwd:
            results = sorted(await asyncio.gather(*(attempt(fwd, f"q{i}.test") for i in range(4))))
            assert results == [
                (NOERROR, 1, ""),
                (NOERROR, 1, ""),
                (REFUSED, 0, "plugin/forward: concurrent queries exceeded maximum 2"),
                (REFUSED, 0, "plugin/forward: concurrent queries exceeded maximum 2"),
            ]
            assert fwd.concurrent == 0
            assert (await run(fwd, make_request("later.test")))[0] == NOERROR
        assert MAX_CONCURRENT_REJECTS.get() == before + 2


async def test_next_passes_to_the_next_forward_only() -> None:
    """`next NXDOMAIN` hands the query to the following forward stanza, not to other plugins."""
    async with FakeUpstream() as a, fixed("10.0.0.2") as b:
        text = f"forward . {a.addr} {{\nnext NXDOMAIN\n}}\nforward . {b.addr}"
        async with started(text) as fwd:
            _, w = await run(fwd, make_request("nx.test"))
            assert (w.reply.header.rcode, answer_ip(w.reply)) == (0, "10.0.0.2")
            _, w = await run(fwd, make_request("found.test"))
            assert answer_ip(w.reply) == "10.0.0.1"
        stub = StubHandler(answers=("nx.test. 1 IN A 192.0.2.1",))
        async with started(f"forward . {a.addr} {{\nnext NXDOMAIN\n}}", stub) as fwd:
            _, w = await run(fwd, make_request("nx.test"))
            assert (w.reply.header.rcode, stub.calls) == (3, [])


async def test_next_on_nodata() -> None:
    async with FakeUpstream() as a, FakeUpstream() as b:
        text = f"forward . {a.addr} {{\nnext_on_nodata\n}}\nforward . {b.addr}"
        async with started(text) as fwd:
            await run(fwd, make_request("a.test", "TXT"))  # NOERROR, no records
            await run(fwd, make_request("a.test", "A"))
        assert [s.qtype for s in a.seen] == ["TXT", "A"]
        assert [s.qtype for s in b.seen] == ["TXT"]


async def test_failover_tries_the_next_upstream_on_those_rcodes() -> None:
    def servfail(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = query.reply()
        reply.header.rcode = 2
        return reply

    async with FakeUpstream(servfail) as bad, fixed("10.0.0.2") as good:
        text = f"forward . {bad.addr} {good.addr} {{\npolicy sequential\nfailover SERVFAIL\n}}"
        async with started(text) as fwd:
            _, w = await run(fwd, make_request("a.test"))
            assert answer_ip(w.reply) == "10.0.0.2"
        async with started(f"forward . {bad.addr} {good.addr} {{\npolicy sequential\n}}") as fwd:
            _, w = await run(fwd, make_request("a.test"))
            assert w.reply.header.rcode == 2  # without failover SERVFAIL is an answer


async def test_chaos_class_is_forwarded() -> None:
    assert Forward.any_class is True
    async with FakeUpstream() as up, started(f"forward . {up.addr}") as fwd:
        await run(fwd, make_request("version.bind", "TXT", qclass="CH"))
        assert [(s.qname, s.qtype) for s in up.seen] == [("version.bind.", "TXT")]


async def test_connections_are_reused_until_they_expire() -> None:
    now = [1000.0]
    async with FakeUpstream() as up, started(f"forward . {up.addr} {{\nexpire 5s\n}}") as fwd:
        proxy = fwd.proxies[0]
        proxy.pool.clock = lambda: now[0]
        labels = ("forward", up.addr, "udp")
        hits, misses = CONN_CACHE_HITS.get(labels), CONN_CACHE_MISSES.get(labels)
        for _ in range(3):
            await run(fwd, make_request("a.test"))
        assert len({s.remote for s in up.seen}) == 1  # one socket, reused
        now[0] += 6
        await run(fwd, make_request("a.test"))
        assert len({s.remote for s in up.seen}) == 2  # expired: a new socket
        assert CONN_CACHE_MISSES.get(labels) == misses + 2
        assert CONN_CACHE_HITS.get(labels) == hits + 2
        await run(fwd, make_request("a.test", proto="tcp"))
        await run(fwd, make_request("a.test", proto="tcp"))
        tcp = [s.remote for s in up.seen if s.proto == "tcp"]
        assert len(tcp) == 2
        assert tcp[0] == tcp[1]
    assert proxy.pool.size("udp") == proxy.pool.size("tcp") == 0  # stop closed them


async def test_max_idle_conns_caps_the_cache() -> None:
    text = "forward . {} {{\nmax_idle_conns 1\n}}"
    async with FakeUpstream(delay=0.05) as up, started(text.format(up.addr)) as fwd:
        await asyncio.gather(*(run(fwd, make_request(f"q{i}.test")) for i in range(3)))
        assert len({s.remote for s in up.seen}) == 3
        assert fwd.proxies[0].pool.size("udp") == 1


async def test_resolv_conf_files_are_read_at_start(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch example.org\nnameserver 127.0.0.1\nnameserver ::1\n")
    async with FakeUpstream() as up, started(f"forward . {up.addr} {conf}") as fwd:
        assert [p.addr for p in fwd.proxies] == [up.addr, "127.0.0.1:53", "[::1]:53"]
    with pytest.raises(PluginError, match="failed to open file"):
        async with started(f"forward . {tmp_path}/missing.conf"):
            pass
    conf.write_text("search example.org\n")
    with pytest.raises(PluginError, match="no nameservers found"):
        async with started(f"forward . {conf}"):
            pass


async def test_hostname_upstream_is_resolved_through_the_resolver() -> None:
    def resolver_answer(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
        reply = query.reply()
        if query.q.qtype == dnslib.QTYPE.A:
            reply.add_answer(dnslib.RR(query.q.qname, rdata=dnslib.A("127.0.0.1")))
        return reply

    async with FakeUpstream(resolver_answer) as resolver, FakeUpstream() as up:
        text = f"forward . dns.fake:{up.port} {{\nresolver {resolver.addr}\n}}"
        async with started(text) as fwd:
            assert [p.addr for p in fwd.proxies] == [up.addr]
            _, w = await run(fwd, make_request("a.test"))
            assert answer_ip(w.reply) == "10.0.0.1"
        assert [(s.qname, s.qtype) for s in resolver.seen] == [
            ("dns.fake.", "A"),
            ("dns.fake.", "AAAA"),
        ]


async def test_several_stanzas_first_match_wins_and_start_together() -> None:
    async with fixed("10.0.0.1") as a, fixed("10.0.0.2") as b:
        text = f"forward sub.example.org {a.addr}\nforward example.org {b.addr}"
        stub = StubHandler(answers=("other.test. 1 IN A 192.0.2.1",))
        async with started(text, stub) as fwd:
            assert len(fwd.group) == 2
            _, w = await run(fwd, make_request("x.sub.example.org"))
            assert answer_ip(w.reply) == "10.0.0.1"
            _, w = await run(fwd, make_request("x.example.org"))
            assert answer_ip(w.reply) == "10.0.0.2"
            _, w = await run(fwd, make_request("other.test"))
            assert answer_ip(w.reply) == "192.0.2.1"
        assert all(s._sweeper is None for s in fwd.group)


async def test_proxy_is_served_as_forward_longest_from_first() -> None:
    async with fixed("10.0.0.1") as a, fixed("10.0.0.2") as b:
        text = f"proxy . {a.addr}\nproxy example.org {b.addr}"
        async with started(text) as fwd:
            assert fwd.name == "proxy"
            _, w = await run(fwd, make_request("www.example.org"))
            assert answer_ip(w.reply) == "10.0.0.2"
            _, w = await run(fwd, make_request("www.example.net"))
            assert answer_ip(w.reply) == "10.0.0.1"
            assert sum(REQUEST_DURATION.counts[("proxy", b.addr, "NOERROR")]) == 1
        dead = dead_addr()
        text = f"proxy . {dead} {dead}"
        async with started(text) as fwd:
            fwd.timeout = 0.2
            with pytest.raises(PluginError, match=r"^plugin/proxy: "):
                await run(fwd, make_request("a.test"))


class FakeConn:
    """A stand-in connection for the pool: remembers whether it was closed."""

    def __init__(self, created: float) -> None:
        self.created = self.used = created
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_pool_is_fifo_and_drops_expired_and_old_connections() -> None:
    now = [0.0]
    pool = ConnPool(10.0, max_age=30.0, clock=lambda: now[0])
    a, b = FakeConn(0.0), FakeConn(0.0)
    pool.give("udp", a)  # type: ignore[arg-type]
    pool.give("udp", b)  # type: ignore[arg-type]
    assert pool.take("udp") is a  # the oldest first, for source port diversity
    now[0] = 5.0
    pool.give("udp", a)  # type: ignore[arg-type]
    now[0] = 12.0  # b unused for 12s: expired; a used 7s ago
    assert pool.take("udp") is a
    assert b.closed
    now[0] = 31.0
    pool.give("udp", a)  # type: ignore[arg-type]
    assert pool.take("udp") is None  # fresh use, but older than max_age
    assert a.closed
    c = FakeConn(31.0)
    pool.give("tcp", c)  # type: ignore[arg-type]
    now[0] = 50.0
    pool.sweep()
    assert (c.closed, pool.size("tcp")) == (True, 0)
    pool.close()
    d = FakeConn(50.0)
    pool.give("tcp", d)  # type: ignore[arg-type]
    assert d.closed  # a closed pool keeps nothing


async def test_doh_reads_chunked_and_sized_replies() -> None:
    reader = asyncio.StreamReader()
    body = b"\x12\x34" + bytes(10)
    reader.feed_data(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"5\r\n" + body[:5] + b"\r\n" + b"7\r\n" + body[5:] + b"\r\n0\r\n\r\n"
        + b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n" + body
        + b"HTTP/1.1 415 Unsupported Media Type\r\nContent-Length: 0\r\n\r\n"
    )  # fmt: skip

    class Writer:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> None:
            self.data += data

        async def drain(self) -> None:
            pass

    writer = Writer()
    conn = StreamConn(reader, writer, 0.0, 0.0)  # type: ignore[arg-type]
    assert await doh.roundtrip(conn, b"Q", "dns.test", "POST") == (body, True)
    assert writer.data.startswith(b"POST /dns-query HTTP/1.1\r\nHost: dns.test\r\n")
    assert writer.data.endswith(b"Content-Length: 1\r\n\r\nQ")
    assert await doh.roundtrip(conn, b"Q", "dns.test", "GET") == (body, False)
    assert b"GET /dns-query?dns=UQ HTTP/1.1" in writer.data
    with pytest.raises(doh.DohError, match="unexpected HTTP status code 415"):
        await doh.roundtrip(conn, b"Q", "dns.test", "POST")
