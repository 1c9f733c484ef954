"""UDP, TCP, TLS and HTTPS sockets, owned by the runtime so a reload that keeps a port keeps
its socket.

A dns:// key gets UDP and TCP; tls:// (RFC 7858) and https:// (RFC 8484) get TCP only, and each
connection is upgraded with the TLS context of the running generation, so a reload that
changes the certificate applies to the next connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from kdns.runtime import mmsg
from kdns.runtime.dispatch import ZoneMux
from kdns.runtime.doh import serve_https
from kdns.runtime.generation import ListenKey, listen_label

log = structlog.get_logger("kdns.server")

#: How long an idle TCP connection is kept, and how many may be open per listener.
TCP_IDLE_TIMEOUT = 10.0
TCP_MAX_CONNECTIONS = 1024
#: Bytes of UDP receive buffer asked for per socket.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024

Lookup = Callable[[ListenKey], ZoneMux | None]
#: The TLS context a tls:// or https:// listener uses for its next connection.
Secure = Callable[[ListenKey], ssl.SSLContext | None]


class UdpEndpoint(Protocol):
    """What a listener keeps of a UDP socket it serves (an asyncio transport, a BatchUdp)."""

    def close(self) -> None:
        """Stop serving and close the socket."""
        ...

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Return `sockname` and the like."""
        ...


def _no_tls(key: ListenKey) -> ssl.SSLContext | None:
    return None


def listen_addresses(host: str) -> list[str]:
    """Return the addresses to bind for a host; "" means IPv4 and IPv6 everywhere."""
    if host:
        return [host]
    return ["0.0.0.0", "::"] if socket.has_ipv6 else ["0.0.0.0"]


def bound_socket(
    host: str, port: int, kind: socket.SocketKind, reuse_port: bool = False
) -> socket.socket:
    """Return a non-blocking socket bound to (host, port), ready for a listener."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # `kdns serve --workers N`: the workers share the port, the kernel spreads
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if kind == socket.SOCK_DGRAM:
            # Room for bursts while the loop is busy (a reload, a GC pause): the kernel caps
            # it at net.core.rmem_max, which is fine.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        address: tuple[object, ...] = (host, port)
        if "%" in host:  # link-local IPv6 (`bind eth0`): the scope must become a scope id
            found = socket.getaddrinfo(host, port, family, kind, 0, socket.AI_NUMERICHOST)
            address = found[0][4]
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class UdpProtocol(asyncio.DatagramProtocol):
    """Hands each datagram to the current generation's zone mux."""

    def __init__(self, key: ListenKey, lookup: Lookup, tasks: set[asyncio.Task[None]]) -> None:
        self.key = key
        self.lookup = lookup
        self.tasks = tasks
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport is not a subclass of asyncio.DatagramTransport.
        self.transport = transport  # type: ignore[assignment]
        self.local = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        mux = self.lookup(self.key)
        transport = self.transport
        if mux is None or transport is None:
            return
        if mux.fast_enabled:  # the hot path first: this is most queries, keep it short
            reply = mux.hot_udp.answer(data, ":" in addr[0])
            if reply is not None:
                transport.sendto(reply, addr)
                return
        remote = (addr[0], addr[1])
        reply = mux.fast_cold(data, "udp", remote)
        if reply is not None:
            transport.sendto(reply, addr)
            return

        def send(wire: bytes) -> None:
            transport.sendto(wire, addr)

        task = asyncio.get_running_loop().create_task(
            mux.handle(data, "udp", remote, self.local, send)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


@dataclass
class Listener:
    """The UDP endpoints and TCP servers of one listen key."""

    key: ListenKey
    udp: list[UdpEndpoint] = field(default_factory=list)
    tcp: list[asyncio.Server] = field(default_factory=list)

    def close(self) -> None:
        """Close every socket of this listener."""
        for transport in self.udp:
            transport.close()
        for server in self.tcp:
            server.close()


class ListenerPool:
    """The open listeners, by key; opened before a generation swaps in, closed after."""

    def __init__(self, lookup: Lookup, secure: Secure = _no_tls) -> None:
        self.lookup = lookup
        self.secure = secure
        self.listeners: dict[ListenKey, Listener] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.connections: dict[ListenKey, int] = {}
        #: False once shutdown begins: new TCP connections are refused.
        self.accepting = True
        #: Bind with SO_REUSEPORT (a worker of `kdns serve --workers N`).
        self.reuse_port = False

    async def open_missing(self, keys: set[ListenKey]) -> list[ListenKey]:
        """Open listeners for keys not yet open; on failure close those opened and raise."""
        opened: list[ListenKey] = []
        try:
            for key in sorted(keys - self.listeners.keys()):
                self.listeners[key] = await self._open(key)
                opened.append(key)
        except BaseException:
            for key in opened:
                self.listeners.pop(key).close()
            raise
        return opened

    def close_unused(self, keys: set[ListenKey]) -> None:
        """Close listeners whose keys the running generation no longer serves."""
        for key in list(self.listeners.keys() - keys):
            self.listeners.pop(key).close()

    def close_all(self) -> None:
        """Close every listener."""
        self.close_unused(set())

    async def _open(self, key: ListenKey) -> Listener:
        transport, host, port = key
        loop = asyncio.get_running_loop()
        listener = Listener(key)
        try:
            for addr in listen_addresses(host):
                if transport == "dns":
                    udp_sock = bound_socket(addr, port, socket.SOCK_DGRAM, self.reuse_port)
                    if mmsg.AVAILABLE:
                        batch = mmsg.BatchUdp(udp_sock, key, self.lookup, self.tasks)
                        batch.start()
                        listener.udp.append(batch)
                    else:
                        udp, _ = await loop.create_datagram_endpoint(
                            lambda: UdpProtocol(key, self.lookup, self.tasks), sock=udp_sock
                        )
                        listener.udp.append(udp)
                tcp_sock = bound_socket(addr, port, socket.SOCK_STREAM, self.reuse_port)
                server = await asyncio.start_server(
                    lambda r, w: self._tcp(key, r, w), sock=tcp_sock, backlog=511
                )
                listener.tcp.append(server)
        except BaseException:
            listener.close()
            raise
        return listener

    def bound_port(self, key: ListenKey) -> int:
        """Return the port a listener actually bound (useful when the key asked for 0)."""
        listener = self.listeners[key]
        if listener.udp:
            return int(listener.udp[0].get_extra_info("sockname")[1])
        return int(listener.tcp[0].sockets[0].getsockname()[1])

    async def _tcp(
        self, key: ListenKey, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        count = self.connections.get(key, 0)
        if not self.accepting or count >= TCP_MAX_CONNECTIONS:
            writer.close()
            return
        self.connections[key] = count + 1
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        remote, here = (peer[0], peer[1]), (local[0], local[1])
        try:
            if key[0] == "dns":
                await self._stream(key, reader, writer, remote, here)
            elif await self._handshake(key, writer):
                if key[0] == "https":
                    await serve_https(
                        lambda: self.lookup(key) if self.accepting else None,
                        listen_label(key),
                        reader,
                        writer,
                        remote,
                        here,
                    )
                else:
                    await self._stream(key, reader, writer, remote, here)
        finally:
            self.connections[key] -= 1
            writer.close()
            # A cancel here only cuts the wait for the close: the task ends normally, as
            # Python 3.11's stream callback logs a cancelled connection task as an error.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _handshake(self, key: ListenKey, writer: asyncio.StreamWriter) -> bool:
        """Upgrade a tls:// or https:// connection to TLS; False if that failed."""
        context = self.secure(key)
        if context is None:
            return False
        try:
            await writer.start_tls(context, ssl_handshake_timeout=TCP_IDLE_TIMEOUT)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            log.debug("TLS handshake failed", server=listen_label(key), error=str(exc))
            return False
        return True

    async def _stream(
        self,
        key: ListenKey,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        remote: tuple[str, int],
        here: tuple[str, int],
    ) -> None:
        """Serve length-prefixed DNS messages (RFC 7766) until idle, closed or shutdown."""
        pending: set[asyncio.Task[None]] = set()

        def send(wire: bytes) -> None:
            if not writer.is_closing():
                writer.write(struct.pack("!H", len(wire)) + wire)

        while self.accepting:
            try:
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    head = await reader.readexactly(2)
                (length,) = struct.unpack("!H", head)
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    data = await reader.readexactly(length)
            except (TimeoutError, asyncio.IncompleteReadError, OSError):
                break
            mux = self.lookup(key)
            if mux is None:
                break
            reply = mux.fast(data, "tcp", remote)
            if reply is not None:
                send(reply)
                continue
            task = asyncio.get_running_loop().create_task(
                mux.handle(data, "tcp", remote, here, send)
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=TCP_IDLE_TIMEOUT)
