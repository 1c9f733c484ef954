"""health handler: the /health route, lameduck, and the self-poll and its metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from kdns.plugins.health import Health
from kdns.plugins.health.handler import (
    _POLLERS,
    DURATION,
    FAILURES,
    SLIM_BUCKETS,
    Poller,
    health_route,
    poll_host,
)
from kdns.plugins.testing import build
from kdns.runtime.testing import free_port


def _health(text: str) -> Health:
    handler = build(text)
    assert isinstance(handler, Health)
    return handler


@pytest.mark.parametrize(
    ("text", "address", "lameduck"),
    [
        ("health", ("", 8080), 0.0),
        ("health 127.0.0.1:8091", ("127.0.0.1", 8091), 0.0),
        ("health [::1]:8080 {\nlameduck 2s\n}", ("::1", 8080), 2.0),
        # repeated: the last address given and the last lameduck set win, as in CoreDNS
        ("health :8081 {\nlameduck 1s\n}\nhealth :8082", ("", 8082), 1.0),
        ("health :8081\nhealth {\nlameduck 3s\n}", ("", 8081), 3.0),
    ],
)
def test_address_and_lameduck(text: str, address: tuple[str, int], lameduck: float) -> None:
    handler = _health(text)
    assert handler.http_address() == address
    assert handler.lameduck() == lameduck


def test_route_answers_ok_even_when_stopping() -> None:
    class Stopping:
        stopping = True

        def not_ready(self) -> list[str]:
            return ["kubernetes"]

    assert _health("health").http_routes() == {"/health": health_route}
    assert health_route(Stopping()) == (200, "text/plain; charset=utf-8", b"OK")


@pytest.mark.parametrize(
    ("host", "polled"),
    [("", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("10.1.2.3", "10.1.2.3")],
)
def test_poll_host(host: str, polled: str) -> None:
    assert poll_host(host) == polled


def test_slim_buckets_are_coredns_s() -> None:
    assert pytest.approx((0.00025, 0.0025, 0.025, 0.25, 2.5)) == SLIM_BUCKETS


@pytest.fixture
async def endpoint() -> AsyncIterator[int]:
    """A tiny HTTP server answering 200 OK, on a free port."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:  # closed however the client leaves, so no transport outlives the test's loop
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


async def test_poll_records_the_duration(endpoint: int) -> None:
    poller = Poller("", endpoint)
    before_count, before_failures = sum(DURATION.counts.get((), [0])), FAILURES.get()
    ticks = iter([5.0, 5.01])
    poller.clock = lambda: next(ticks)
    with capture_logs() as logs:
        assert await poller.poll_once()
    assert sum(DURATION.counts[()]) == before_count + 1
    assert FAILURES.get() == before_failures
    assert logs == []


async def test_slow_poll_is_warned_about(endpoint: int) -> None:
    poller = Poller("127.0.0.1", endpoint)
    ticks = iter([5.0, 6.5])
    poller.clock = lambda: next(ticks)
    before = DURATION.counts.get((), [0] * 6)[4]
    with capture_logs() as logs:
        assert await poller.poll_once()
    assert DURATION.counts[()][4] == before + 1  # 1.5s lands in le=2.5
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["event"] == (
        f'Local health request to "http://127.0.0.1:{endpoint}/health" took more than 1s: 1.500s'
    )


async def test_failed_poll_counts_a_failure() -> None:
    port = free_port()  # nothing listens here
    poller = Poller("127.0.0.1", port)
    before = FAILURES.get()
    with capture_logs() as logs:
        assert not await poller.poll_once()
    assert FAILURES.get() == before + 1
    assert logs[0]["event"].startswith(
        f'Local health request to "http://127.0.0.1:{port}/health" failed: '
    )


async def test_blocks_and_generations_share_one_poller() -> None:
    port = free_port()
    first, second = _health(f"health 127.0.0.1:{port}"), _health(f"health 127.0.0.1:{port}")
    await first.start()
    await second.start()
    poller, holders = _POLLERS[("127.0.0.1", port)]
    assert len(holders) == 2
    await first.stop()
    assert _POLLERS[("127.0.0.1", port)][0] is poller
    await second.stop()
    assert ("127.0.0.1", port) not in _POLLERS
    assert poller.task is not None
    assert poller.task.cancelled()
    assert FAILURES.get() >= 0
    assert () in FAILURES.values


async def test_poll_loop_polls(endpoint: int) -> None:
    poller = Poller("127.0.0.1", endpoint)
    before = sum(DURATION.counts.get((), [0]))
    task = asyncio.create_task(poller.run(interval=0.001))
    try:
        for _ in range(200):
            await asyncio.sleep(0.005)
            if sum(DURATION.counts.get((), [0])) >= before + 2:
                break
    finally:
        task.cancel()
    assert sum(DURATION.counts[()]) >= before + 2


async def test_a_stop_that_lands_as_a_poll_completes_ends_the_poll_loop(endpoint: int) -> None:
    """The cancel of a stop arriving in the very turn a poll's request completes is not lost
    (asyncio.wait_for on Python 3.11 returned the request's result instead): the loop ends,
    so a stop or reload awaiting it does not wait forever."""
    poller = Poller("127.0.0.1", endpoint)
    request = poller._get

    async def request_then_stop() -> None:
        await request()
        assert poller.task is not None
        poller.task.cancel()

    poller._get = request_then_stop  # type: ignore[method-assign]
    poller.task = asyncio.create_task(poller.run(interval=0.001))
    done, _ = await asyncio.wait({poller.task}, timeout=2)
    assert poller.task in done
    assert poller.task.cancelled()
