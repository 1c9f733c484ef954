"""forward: one upstream server: its cached connections, exchanges and in-band health checks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import dnslib

from kdns.plugins.forward import doh
from kdns.plugins.forward.metrics import (
    CONN_CACHE_HITS,
    CONN_CACHE_MISSES,
    HEALTHCHECK_FAILURES,
    REQUEST_DURATION,
    rcode_name,
)
from kdns.plugins.forward.pool import ConnPool, DatagramConn, StreamConn
from kdns.plugins.wire import packed

#: CoreDNS's adaptive dial timeout bounds, and the weight of a new dial in the average.
MIN_DIAL_TIMEOUT, MAX_DIAL_TIMEOUT, DIAL_WEIGHT = 1.0, 30.0, 4
#: How long a health check waits for its answer (CoreDNS: 1s for DNS, 2s for DoH).
HC_TIMEOUT, HC_DOH_TIMEOUT = 1.0, 2.0
#: The shortest pause between two health checks of a failing upstream.
MIN_HC_PAUSE = 0.01


class UpstreamError(Exception):
    """A network error talking to an upstream; the message reads like CoreDNS's (Go's)."""


class CachedClosed(UpstreamError):
    """The upstream closed a cached connection; the exchange is retried on a new one."""


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    """What every upstream of one forward stanza shares."""

    proxy_name: str = "forward"
    expire: float = 10.0
    max_age: float = 0.0
    max_idle: int = 0
    read_timeout: float = 2.0
    source_address: str | None = None
    hc_interval: float = 0.5
    hc_recursion_desired: bool = True
    hc_domain: str = "."
    #: Health check over TCP (force_tcp) instead of UDP; TLS upstreams always use TLS.
    hc_tcp: bool = False
    doh_method: str = "POST"
    clock: Callable[[], float] = time.monotonic


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "i/o timeout"
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        return "EOF"
    if isinstance(exc, OSError) and exc.errno and not isinstance(exc, ssl.SSLError):
        text = os.strerror(exc.errno)  # asyncio words some of them its own way
        return text[:1].lower() + text[1:]
    return str(exc) or type(exc).__name__


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Proxy:
    """One upstream (`host:port` over dns, tls or https), as CoreDNS's proxy package has it."""

    def __init__(
        self,
        host: str,
        port: int,
        transport: str = "dns",
        *,
        options: ProxyOptions | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self.host, self.port, self.transport = host, port, transport
        self.options = opts = options or ProxyOptions()
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.addr = _join(host, port)
        if transport == "https":
            self.addr = f"https://{self.addr}{doh.PATH}"
        self.authority = server_hostname or _join(host, port)
        self.server_hostname = server_hostname
        #: Set in start() for tls and https upstreams (it reads certificate files).
        self.ssl: ssl.SSLContext | None = None
        self.fails = 0
        self.stopped = False
        self.pool = ConnPool(
            opts.expire, max_age=opts.max_age, max_idle=opts.max_idle, clock=opts.clock
        )
        self._avg_dial = MAX_DIAL_TIMEOUT / 2
        self._probe: asyncio.Task[None] | None = None
        self._duration_labels: dict[int, tuple[str, str, str]] = {}
        self._cache_labels = {p: (opts.proxy_name, self.addr, p) for p in ("udp", "tcp", "tcp-tls")}
        self._hc_labels = (opts.proxy_name, self.addr)
        ping = dnslib.DNSRecord.question(opts.hc_domain, "NS")
        ping.header.rd = int(opts.hc_recursion_desired)
        self._ping = ping.pack()

    def __repr__(self) -> str:
        return f"Proxy({self.addr!r}, fails={self.fails})"

    def down(self, max_fails: int) -> bool:
        """Tell whether this upstream failed more than `max_fails` health checks in a row."""
        return max_fails != 0 and self.fails > max_fails

    # -- exchanges -------------------------------------------------------------------------
    async def connect(self, wire: bytes, proto: str, size: int) -> bytes:
        """Send the query `wire` over `proto`; return the reply with the query's ID.

        The upstream sees a fresh random ID; replies with another ID are dropped (they
        belong to an earlier exchange on a reused connection). Raises UpstreamError.
        """
        start = time.perf_counter()
        qid = random.getrandbits(16).to_bytes(2, "big")
        out = qid + wire[2:]
        if self.transport == "https":
            data = await self._https(out)
        elif self.transport == "tls":
            data = await self._stream(out, qid, "tcp-tls")
        elif proto == "udp":
            data = await self._udp(out, qid, max(size, 512))
        else:
            data = await self._stream(out, qid, "tcp")
        if len(data) < 12:
            raise UpstreamError(f"dns: short reply of {len(data)} bytes from {self.addr}")
        data = wire[:2] + data[2:]
        rcode = data[3] & 0xF
        labels = self._duration_labels.get(rcode)
        if labels is None:
            labels = self._duration_labels[rcode] = (
                self.options.proxy_name,
                self.addr,
                rcode_name(rcode),
            )
        REQUEST_DURATION.observe(labels, time.perf_counter() - start)
        return data

    def _dial_udp(self) -> DatagramConn:
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if self.options.source_address:
                sock.bind((self.options.source_address, 0))
            sock.connect((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise UpstreamError(f"dial udp {self.addr}: {_reason(exc)}") from None
        now = self.options.clock()
        return DatagramConn(sock, now, now)

    async def _udp(self, out: bytes, qid: bytes, size: int) -> bytes:
        conn = self.pool.take("udp")
        if conn is None:
            CONN_CACHE_MISSES.inc(self._cache_labels["udp"])
            conn = self._dial_udp()
        else:
            CONN_CACHE_HITS.inc(self._cache_labels["udp"])
        assert isinstance(conn, DatagramConn)
        data = await self._udp_roundtrip(conn, out, qid, self.options.read_timeout)
        self.pool.give("udp", conn)
        if len(data) > size:
            data = _truncated(data)
        return data

    async def _udp_roundtrip(
        self, conn: DatagramConn, out: bytes, qid: bytes, timeout: float
    ) -> bytes:
        loop = asyncio.get_running_loop()
        sock = conn.sock
        try:
            await loop.sock_sendall(sock, out)
            async with asyncio.timeout(timeout):
                while True:
                    data = await loop.sock_recv(sock, 65535)
                    if data[:2] == qid:  # an earlier exchange's late reply otherwise
                        return data
        except (OSError, TimeoutError) as exc:
            local = _local(sock)
            conn.close()
            op = "" if isinstance(exc, TimeoutError) else "read: "
            raise UpstreamError(f"read udp {local}->{self.addr}: {op}{_reason(exc)}") from None
        except BaseException:
            conn.close()
            raise

    def _dial_timeout(self) -> float:
        avg = self._avg_dial
        if avg < MIN_DIAL_TIMEOUT:
            return MIN_DIAL_TIMEOUT
        return 2 * avg if avg < MAX_DIAL_TIMEOUT / 2 else MAX_DIAL_TIMEOUT

    async def _dial_stream(self, proto: str, timeout: float | None = None) -> StreamConn:
        started = time.perf_counter()
        tls = proto != "tcp"
        if tls and self.ssl is None:
            raise UpstreamError(f"dial {proto} {self.addr}: TLS is not set up (not started)")
        kwargs: dict[str, object] = {}
        if tls:
            kwargs["ssl"] = self.ssl
            kwargs["server_hostname"] = self.server_hostname or self.host.split("%")[0]
        if self.options.source_address:
            kwargs["local_addr"] = (self.options.source_address, 0)
        try:
            async with asyncio.timeout(timeout or self._dial_timeout()):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    family=self.family,
                    **kwargs,  # type: ignore[arg-type]
                )
        except (OSError, TimeoutError) as exc:
            net = "tcp" if proto == "tcp" else "tcp-tls"
            op = "connect: " if type(exc) is not TimeoutError and not tls else ""
            raise UpstreamError(f"dial {net} {self.addr}: {op}{_reason(exc)}") from None
        finally:
            self._avg_dial += (time.perf_counter() - started - self._avg_dial) / DIAL_WEIGHT
        now = self.options.clock()
        return StreamConn(reader, writer, now, now)

    def _take_stream(self, proto: str) -> StreamConn | None:
        conn = self.pool.take(proto)
        label = self._cache_labels[proto]
        if conn is None:
            CONN_CACHE_MISSES.inc(label)
            return None
        CONN_CACHE_HITS.inc(label)
        assert isinstance(conn, StreamConn)
        return conn

    async def _stream(self, out: bytes, qid: bytes, proto: str) -> bytes:
        conn = self._take_stream(proto)
        cached = conn is not None
        if conn is None:
            conn = await self._dial_stream(proto)
        data = await self._stream_roundtrip(conn, out, qid, self.options.read_timeout, cached)
        self.pool.give(proto, conn)
        return data

    async def _stream_roundtrip(
        self, conn: StreamConn, out: bytes, qid: bytes, timeout: float, cached: bool
    ) -> bytes:
        try:
            conn.writer.write(len(out).to_bytes(2, "big") + out)
            async with asyncio.timeout(timeout):
                await conn.writer.drain()
                while True:
                    head = await conn.reader.readexactly(2)
                    data = await conn.reader.readexactly(int.from_bytes(head, "big"))
                    if data[:2] == qid:
                        return data
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            local = _local(conn.writer.get_extra_info("socket"))
            conn.close()
            if cached and isinstance(exc, asyncio.IncompleteReadError | ConnectionResetError):
                raise CachedClosed("cached connection was closed by peer") from None
            raise UpstreamError(f"read tcp {local}->{self.addr}: {_reason(exc)}") from None
        except BaseException:
            conn.close()
            raise

    async def _https(self, out: bytes, timeout: float | None = None) -> bytes:
        # CoreDNS's DoH client has no connection cache metrics: none are counted here.
        conn = self.pool.take("https")
        cached = conn is not None
        if conn is None:
            conn = await self._dial_stream("https")
        assert isinstance(conn, StreamConn)
        try:
            async with asyncio.timeout(timeout or self.options.read_timeout):
                data, keep = await doh.roundtrip(conn, out, self.authority, self.options.doh_method)
        except (OSError, TimeoutError, EOFError, doh.DohError) as exc:
            conn.close()
            if cached and isinstance(exc, EOFError | ConnectionResetError):
                raise CachedClosed("cached connection was closed by peer") from None
            raise UpstreamError(f"Post {self.addr!r}: {_reason(exc)}") from None
        except BaseException:
            conn.close()
            raise
        if keep:
            self.pool.give("https", conn)
        else:
            conn.close()
        return data

    # -- health ----------------------------------------------------------------------------
    def healthcheck(self) -> None:
        """Start checking this upstream until it answers, unless a check is already running."""
        if self.stopped or self._probe is not None:
            return
        self._probe = asyncio.get_running_loop().create_task(self._probe_loop())

    async def _probe_loop(self) -> None:
        try:
            while not await self.check():
                # `health_check 0s` would spin on a dead upstream: pause at least a little.
                await asyncio.sleep(max(self.options.hc_interval, MIN_HC_PAUSE))
        finally:
            self._probe = None

    async def check(self) -> bool:
        """Ask the health check question once; count a failure or clear the count."""
        try:
            await self._send_ping()
        except (UpstreamError, OSError, TimeoutError):
            HEALTHCHECK_FAILURES.inc(self._hc_labels)
            self.fails += 1
            return False
        self.fails = 0
        return True

    async def _send_ping(self) -> None:
        qid = random.getrandbits(16).to_bytes(2, "big")
        out = qid + self._ping[2:]
        if self.transport == "https":
            await self._https(out, HC_DOH_TIMEOUT)
            return
        if self.transport == "dns" and not self.options.hc_tcp:
            udp = self._dial_udp()
            try:
                await self._udp_roundtrip(udp, out, qid, HC_TIMEOUT)
            finally:
                udp.close()
            return
        proto = "tcp-tls" if self.transport == "tls" else "tcp"
        conn = await self._dial_stream(proto, HC_TIMEOUT)
        try:
            await self._stream_roundtrip(conn, out, qid, HC_TIMEOUT, False)
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop health checking and close the cached connections."""
        self.stopped = True
        if self._probe is not None:
            self._probe.cancel()
        self.pool.close()

    async def wait_stopped(self) -> None:
        """Wait for a cancelled health check to finish."""
        probe = self._probe
        if probe is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await probe


def _local(sock: socket.socket | None) -> str:
    try:
        name = sock.getsockname() if sock is not None else None
    except OSError:
        name = None
    return _join(name[0], name[1]) if name else "?"


def _truncated(data: bytes) -> bytes:
    """Return a reply too big for the client's buffer as CoreDNS does: the question, TC set."""
    try:
        reply = dnslib.DNSRecord.parse(data)
    except Exception:
        # A header alone, TC set, no sections: the client retries over TCP.
        return data[:2] + bytes([data[2] | 0x02, data[3]]) + bytes(8)
    reply.rr, reply.auth, reply.ar = [], [], []
    reply.header.tc = 1
    return packed(reply)
