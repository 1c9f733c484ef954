"""health over real HTTP: /health answers, keeps answering in the lameduck, polls itself."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode
import pytest

from kdns.plugins import default_registry
from kdns.plugins.health.handler import Poller
from kdns.runtime.server import RunOptions, Server
from kdns.runtime.testing import free_port, running


async def http(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    """Send one HTTP/1.1 request to 127.0.0.1:port; return the status and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: kdns\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@contextlib.asynccontextmanager
async def started(corefile: str) -> AsyncIterator[Server]:
    """Start a server on `corefile`; the test stops it (stop() is safe to repeat)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Corefile"
        path.write_text(corefile)
        server = Server(RunOptions(conf=str(path)), default_registry())
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


async def test_health_answers_ok() -> None:
    dns_port, port = free_port(), free_port()
    async with running(f".:{dns_port} {{\n    health 127.0.0.1:{port}\n    whoami\n}}\n"):
        assert await http(port, "/health") == (200, b"OK")
        assert await http(port, "/health?verbose=1") == (200, b"OK")
        assert await http(port, "/health", "HEAD") == (200, b"")
        assert (await http(port, "/ready"))[0] == 404


async def test_lameduck_keeps_health_and_metrics_up_while_ready_says_shutting_down() -> None:
    dns_port, health, ready, metrics = free_port(), free_port(), free_port(), free_port()
    corefile = (
        f".:{dns_port} {{\n"
        f"    health 127.0.0.1:{health} {{\n        lameduck 500ms\n    }}\n"
        f"    ready 127.0.0.1:{ready}\n"
        f"    prometheus 127.0.0.1:{metrics}\n"
        "    whoami\n}\n"
    )
    async with started(corefile) as server:
        assert await http(ready, "/ready") == (200, b"OK")
        stopping = asyncio.create_task(server.stop())
        for _ in range(100):
            if server.stopping:
                break
            await asyncio.sleep(0.001)
        assert server.stopping
        assert not stopping.done()
        assert await http(health, "/health") == (200, b"OK")
        status, body = await http(metrics, "/metrics")
        assert status == 200
        assert b"# TYPE coredns_build_info gauge" in body
        assert await http(ready, "/ready") == (503, b"Shutting down")
        query = dns.message.make_query("lameduck.example", "A")
        reply = await dns.asyncquery.udp(query, "127.0.0.1", port=dns_port, timeout=3)
        assert reply.rcode() == dns.rcode.NOERROR  # queries are still answered
        assert not stopping.done()  # all of this happened inside the lameduck
        await stopping
    with pytest.raises(ConnectionRefusedError):
        await http(health, "/health")


async def test_self_poll_is_exported() -> None:
    dns_port, health, metrics = free_port(), free_port(), free_port()
    corefile = (
        f".:{dns_port} {{\n    health 127.0.0.1:{health}\n"
        f"    prometheus 127.0.0.1:{metrics}\n    whoami\n}}\n"
    )
    async with running(corefile):
        # the server's own poller runs once a second; poll once more now instead of waiting
        assert await Poller("127.0.0.1", health).poll_once()
        _, body = await http(metrics, "/metrics")
        text = body.decode()
        assert "coredns_health_request_failures_total " in text
        count = next(
            line for line in text.splitlines()
            if line.startswith("coredns_health_request_duration_seconds_count")
        )  # fmt: skip
        assert float(count.split()[-1]) >= 1
        assert 'coredns_health_request_duration_seconds_bucket{le="0.00025"}' in text
