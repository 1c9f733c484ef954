"""ready over real HTTP, with a test plugin whose readiness the test flips."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from kdns.corefile import BlockContext, Directive, PluginSpec
from kdns.plugins import default_registry
from kdns.plugins.base import BuildContext, Handler
from kdns.runtime.server import RunOptions, Server
from kdns.runtime.testing import free_port


@dataclass(frozen=True, slots=True)
class FlipConfig:
    """The test plugin has nothing to configure."""


def parse_flip(d: Directive, ctx: BlockContext) -> FlipConfig:
    d.bare()
    return FlipConfig()


class Flip:
    """A side plugin that reports whatever readiness the test sets."""

    name = "flip"

    def __init__(self, configs: tuple[FlipConfig, ...], nxt: Handler | None, ctx: BuildContext):
        self.is_ready = False

    def ready(self) -> bool:
        return self.is_ready


def registry() -> dict[str, PluginSpec]:
    specs = default_registry()
    specs["flip"] = PluginSpec("flip", parse_flip, support="served", build=Flip, in_chain=False)
    return specs


async def http(port: int, path: str) -> tuple[int, bytes]:
    """GET 127.0.0.1:port/path; return the status and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: kdns\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@contextlib.asynccontextmanager
async def serving(corefile: str) -> AsyncIterator[tuple[Server, Flip]]:
    """Start a server with the flip plugin registered; yield it and its flip handler."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Corefile"
        path.write_text(corefile)
        server = Server(RunOptions(conf=str(path)), registry())
        await server.start()
        try:
            assert server.current is not None
            flip = next(h for h in server.current.handlers if isinstance(h, Flip))
            yield server, flip
        finally:
            await server.stop()


def corefile(dns_port: int, ready_port: int, monitor: str = "until-ready") -> str:
    return (
        f".:{dns_port} {{\n    flip\n"
        f"    ready 127.0.0.1:{ready_port} {{\n        monitor {monitor}\n    }}\n"
        "    whoami\n}\n"
    )


async def test_until_ready() -> None:
    port = free_port()
    async with serving(corefile(free_port(), port)) as (_, flip):
        assert await http(port, "/ready") == (503, b"flip")
        flip.is_ready = True
        assert await http(port, "/ready") == (200, b"OK")
        flip.is_ready = False  # once ready, not asked again
        assert await http(port, "/ready") == (200, b"OK")


async def test_continuously() -> None:
    port = free_port()
    async with serving(corefile(free_port(), port, "continuously")) as (_, flip):
        assert await http(port, "/ready") == (503, b"flip")
        flip.is_ready = True
        assert await http(port, "/ready") == (200, b"OK")
        flip.is_ready = False
        assert await http(port, "/ready") == (503, b"flip")


async def test_shutting_down_after_stop_begins() -> None:
    port, health = free_port(), free_port()
    text = corefile(free_port(), port).replace(
        "    whoami\n",
        f"    health 127.0.0.1:{health} {{\n        lameduck 300ms\n    }}\n    whoami\n",
    )
    async with serving(text) as (server, flip):
        flip.is_ready = True
        assert await http(port, "/ready") == (200, b"OK")
        stopping = asyncio.create_task(server.stop())
        while not server.stopping:
            await asyncio.sleep(0.001)
        assert await http(port, "/ready") == (503, b"Shutting down")
        await stopping


async def test_blocks_share_a_ready_address() -> None:
    dns_port, port = free_port(), free_port()
    text = (
        f"example.org:{dns_port} {{\n    ready 127.0.0.1:{port}\n    whoami\n}}\n"
        f"example.net:{dns_port} {{\n    ready 127.0.0.1:{port}\n    flip\n    whoami\n}}\n"
    )
    async with serving(text) as (_, flip):
        assert await http(port, "/ready") == (503, b"flip")
        flip.is_ready = True
        assert await http(port, "/ready") == (200, b"OK")
