"""A programmable upstream DNS server for tests of forward (and of chains that end in it)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeAlias

import dnslib

#: What an answer function returns: a reply (record or raw bytes), or None to stay silent.
Reply: TypeAlias = "dnslib.DNSRecord | bytes | None"
Answer: TypeAlias = Callable[[dnslib.DNSRecord, str], "Reply | Awaitable[Reply]"]


@dataclass(frozen=True, slots=True)
class Seen:
    """A query the fake upstream received."""

    proto: str
    qname: str
    qtype: str
    remote: tuple[str, int]


def dead_port(host: str = "127.0.0.1") -> int:
    """Return a port where nothing listens on `host` (UDP queries get connection refused).

    It is picked below the usual ephemeral range (32768 and up), so client sockets of tests
    running in parallel cannot take it meanwhile.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while True:
        port = random.randrange(10000, 32000)
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(family, kind) as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return port


def default_answer(query: dnslib.DNSRecord, proto: str) -> dnslib.DNSRecord:
    """Answer `A 10.0.0.1` (TTL 60) for any name, NXDOMAIN for names starting with `nx`."""
    reply = query.reply()
    qname = str(query.q.qname)
    if qname.lower().startswith("nx"):
        reply.header.rcode = dnslib.RCODE.NXDOMAIN
    elif query.q.qtype == dnslib.QTYPE.A:
        reply.add_answer(dnslib.RR(qname, dnslib.QTYPE.A, rdata=dnslib.A("10.0.0.1"), ttl=60))
    return reply


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        async def reply() -> None:
            wire = await self.upstream.handle(data, "udp", addr)
            if wire is not None and self.transport is not None:
                self.transport.sendto(wire, addr)

        self.upstream.spawn(reply())


class FakeUpstream:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) answering through `answer`.

    Use as `async with FakeUpstream(answer) as up:`; `up.addr` is `127.0.0.1:PORT` and
    `up.seen` lists the queries received. `delay` holds every answer back that long.
    """

    def __init__(
        self, answer: Answer = default_answer, *, delay: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self.answer = answer
        self.delay = delay
        self.host = host
        self.port = 0
        self.seen: list[Seen] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def addr(self) -> str:
        """Return `HOST:PORT` as a forward TO."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run `coro` in a task kept until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, data: bytes, proto: str, remote: tuple[str, int]) -> bytes | None:
        """Answer one query's bytes; return the reply's bytes or None for no reply."""
        try:
            query = dnslib.DNSRecord.parse(data)
        except Exception:
            return None
        self.seen.append(
            Seen(proto, str(query.q.qname), dnslib.QTYPE.get(query.q.qtype), remote[:2])
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        result = self.answer(query, proto)
        if inspect.isawaitable(result):
            result = await result
        if result is None or isinstance(result, bytes):
            return result
        packed: bytes = result.pack()
        return packed

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                head = await reader.readexactly(2)
                data = await reader.readexactly(struct.unpack("!H", head)[0])
                wire = await self.handle(data, "tcp", peer)
                if wire is not None:
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # stopped: end quietly (asyncio's server callback chokes on a cancelled task)
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def start(self, port: int = 0) -> FakeUpstream:
        """Listen on `port` (0: a free one) for UDP and TCP."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(50):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                udp.bind((self.host, port))
            except OSError:
                udp.close()
                raise
            chosen = udp.getsockname()[1]
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, chosen))
            except OSError:
                udp.close()
                tcp.close()
                if port:
                    raise
                continue
            break
        else:  # pragma: no cover - the machine has no free port pair
            raise RuntimeError("no free port")
        self.port = chosen
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp)
        self._udp = transport
        self._tcp = await asyncio.start_server(self._stream, sock=tcp)
        return self

    async def stop(self) -> None:
        """Stop listening and drop the answers still pending."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def __aenter__(self) -> FakeUpstream:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
