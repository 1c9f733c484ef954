"""loop: counting the probe, the fatal message, the probe itself and standing aside."""

from __future__ import annotations

import asyncio

import dnslib
import pytest
import structlog

from kdns.plugins.base import NOERROR, SERVFAIL, BuildContext
from kdns.plugins.forward.testing import FakeUpstream, dead_port
from kdns.plugins.loop import Loop, LoopConfig
from kdns.plugins.loop import handler as loop_handler
from kdns.plugins.loop.handler import listen_address
from kdns.plugins.testing import StubHandler, build, make_request, run


def make_loop(zone: str = ".", servers: tuple[str, ...] = ("dns://:53",)) -> tuple[Loop, list[str]]:
    stub = StubHandler()
    handler = Loop((LoopConfig(zone),), stub, BuildContext(zones=(zone,), servers=servers))
    found: list[str] = []
    handler.on_loop = found.append
    return handler, found


def test_probe_name_is_two_random_labels_under_the_zone() -> None:
    loop, _ = make_loop("example.org.")
    first, second, *rest = loop.qname.split(".")
    assert first.isdigit()
    assert second.isdigit()
    assert ".".join(rest) == "example.org."
    assert make_loop()[0].qname.count(".") == 2
    assert make_loop()[0].qname != make_loop()[0].qname


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (("dns://:1053",), (":1053", "127.0.0.1", 1053)),
        (("dns://127.0.0.2:53", "dns://:53"), ("127.0.0.2:53", "127.0.0.2", 53)),
        (("dns://[::1]:5300",), ("[::1]:5300", "::1", 5300)),
        (("dns://[::]:53",), ("[::]:53", "::1", 53)),
        ((), (":53", "127.0.0.1", 53)),
    ],
)
def test_listen_address(servers: tuple[str, ...], expected: tuple[str, str, int]) -> None:
    assert listen_address(servers) == expected


async def test_third_sighting_of_the_probe_is_a_loop() -> None:
    loop, found = make_loop("example.org.", ("dns://:1053",))
    stub = loop.next
    assert isinstance(stub, StubHandler)
    for port in (40001, 40002):
        rcode, _ = await run(loop, make_request(loop.qname, "HINFO", remote=("10.0.0.1", port)))
        assert rcode == NOERROR
    assert (found, len(stub.calls)) == ([], 2)
    rcode, w = await run(loop, make_request(loop.qname, "HINFO", remote=("10.0.0.9", 40003)))
    assert (rcode, w.replies, len(stub.calls)) == (SERVFAIL, [], 2)
    assert found == [
        f'Loop (10.0.0.9:40003 -> :1053) detected for zone "example.org.", see '
        f'https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO {loop.qname}" '
        "Path: 10.0.0.1:40001 -> 10.0.0.1:40002 -> 10.0.0.9:40003"
    ]
    # reported once; the probe is not passed on any more, other queries are
    assert (await run(loop, make_request(loop.qname, "HINFO")))[0] == SERVFAIL
    assert (await run(loop, make_request("other.example.org", "HINFO")))[0] == NOERROR
    assert len(found) == 1


async def test_other_names_and_types_pass_and_are_not_counted() -> None:
    loop, found = make_loop()
    for _ in range(5):
        await run(loop, make_request(loop.qname, "A"))
        await run(loop, make_request("x." + loop.qname, "HINFO"))
        await run(loop, make_request("example.org", "HINFO"))
    assert (loop.seen, found) == (0, [])
    assert len(loop.next.calls) == 15  # type: ignore[union-attr]


async def test_the_probe_name_is_matched_without_case() -> None:
    loop, found = make_loop("example.org.")
    for _ in range(3):
        await run(loop, make_request(loop.qname.upper(), "HINFO"))
    assert len(found) == 1


async def test_disabled_loop_counts_nothing() -> None:
    loop, found = make_loop()
    loop.disabled = True
    for _ in range(4):
        assert (await run(loop, make_request(loop.qname, "HINFO")))[0] == NOERROR
    assert found == []


async def test_probe_asks_the_server_then_stands_aside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_handler, "DISABLE_AFTER", 0.05)
    async with FakeUpstream() as server:
        loop, found = make_loop("example.org.", (f"dns://:{server.port}",))
        await loop.start()
        for _ in range(100):
            if loop.disabled:
                break
            await asyncio.sleep(0.01)
        await loop.stop()
    assert loop.disabled
    assert [(s.qname, s.qtype) for s in server.seen] == [(loop.qname, "HINFO")]
    assert found == []


async def test_probe_retries_until_the_window_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_handler, "RETRY_PAUSE", 0.01)
    monkeypatch.setattr(loop_handler, "PROBE_WINDOW", 0.3)
    monkeypatch.setattr(loop_handler, "PROBE_TIMEOUT", 0.05)
    loop, _ = make_loop(servers=(f"dns://127.0.0.1:{dead_port()}",))
    loop.seen, loop.path = 2, ["x", "y"]
    await loop.start()
    await asyncio.sleep(0.1)
    assert (loop.disabled, loop.seen, loop.path) == (False, 0, [])  # a failed try resets
    for _ in range(100):
        if loop.disabled:
            break
        await asyncio.sleep(0.01)
    assert loop.disabled
    await loop.stop()


async def test_stop_cancels_the_probe() -> None:
    loop, _ = make_loop(servers=("dns://127.0.0.1:9",))
    await loop.start()
    await loop.stop()
    assert loop._task is None
    assert not loop.disabled


def test_fatal_logs_and_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    codes: list[int] = []
    monkeypatch.setattr(loop_handler.os, "_exit", codes.append)
    with structlog.testing.capture_logs() as logs:
        loop_handler.fatal("Loop (a -> b) detected")
    assert codes == [1]
    assert logs == [{"event": "Loop (a -> b) detected", "log_level": "critical"}]


def test_built_from_the_corefile_with_the_block_zone() -> None:
    loop = build("loop", keys="example.org:1053")
    assert isinstance(loop, Loop)
    assert (loop.zone, loop.address, loop.on_loop) == ("example.org.", ":53", loop_handler.fatal)
    assert dnslib.DNSRecord.question(loop.qname, "HINFO").q.qname.matchSuffix("example.org")
