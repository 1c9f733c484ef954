"""Fixtures for the test API server: the example cluster served, and a raw HTTP/1.1 client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer

EXAMPLE = Path(__file__).parents[3] / "examples" / "cluster.yaml"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@dataclass
class Reply:
    """A complete response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class StreamEnded(Exception):
    """The watch ended with its last chunk (a clean end)."""


class StreamCut(Exception):
    """The connection closed in the middle of the chunked body."""


class WatchStream:
    """An open watch: read its events one at a time."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        headers: dict[str, str],
    ):
        self.reader, self.writer = reader, writer
        self.status, self.headers = status, headers
        self.lines: list[bytes] = []
        self.chunks = 0

    async def _chunk(self) -> bytes:
        try:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                raise StreamEnded
            data = await self.reader.readexactly(size)
            await self.reader.readexactly(2)
        except (asyncio.IncompleteReadError, ConnectionError) as err:
            raise StreamCut from err
        self.chunks += 1
        return data

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next event; raises StreamEnded, StreamCut or TimeoutError."""
        async with asyncio.timeout(timeout):
            while not self.lines:
                self.lines = [ln for ln in (await self._chunk()).split(b"\n") if ln]
        return json.loads(self.lines.pop(0))  # type: ignore[no-any-return]

    async def until(self, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
        """Skip events until one satisfies `pred`."""
        async with asyncio.timeout(timeout):
            while not pred(event := await self.next(timeout)):
                pass
        return event

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()


class Http:
    """A raw HTTP/1.1 client that keeps one connection per call (or reuses one given)."""

    Ended = StreamEnded
    Cut = StreamCut
    TABLE = TABLE

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.opened: list[asyncio.StreamWriter] = []

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a connection (closed by `close_all` at the latest)."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened.append(writer)
        return reader, writer

    async def close_all(self) -> None:
        """Close every connection this client opened."""
        for writer in self.opened:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    @staticmethod
    def _head(method: str, path: str, body: bytes, headers: dict[str, str] | None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: test"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        return int(head[0].split()[1]), headers

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None,
    ) -> Reply:
        """Send one request and read the whole (Content-Length) response."""
        reader, writer = conn or await self.connect()
        raw = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        writer.write(self._head(method, path, raw, headers))
        status, hdrs = await self._read_head(reader)
        data = await reader.readexactly(int(hdrs.get("content-length", "0")))
        if conn is None:
            writer.close()
        return Reply(status, hdrs, data)

    async def get(self, path: str, **kw: Any) -> Reply:
        """GET."""
        return await self.request("GET", path, **kw)

    async def watch(self, path: str, headers: dict[str, str] | None = None) -> WatchStream:
        """Start a watch (path includes the query) and return the open stream."""
        reader, writer = await self.connect()
        writer.write(self._head("GET", path, b"", headers))
        status, hdrs = await self._read_head(reader)
        return WatchStream(reader, writer, status, hdrs)


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    """The example cluster, served on an ephemeral port (no file polling)."""
    srv = ApiServer([EXAMPLE], poll_interval=0)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[str], Http]]:
    """Make raw clients for servers a test starts itself."""
    made: list[Http] = []

    def make(url: str) -> Http:
        made.append(Http(url))
        return made[-1]

    yield make
    for client in made:
        await client.close_all()


@pytest.fixture
async def http(server: ApiServer) -> AsyncIterator[Http]:
    """A raw client for `server`."""
    client = Http(server.url)
    yield client
    await client.close_all()
