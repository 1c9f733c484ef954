"""Load faults: a TCP connection flood, slowloris clients, and a query flood to a slow upstream.

kdns runs as a subprocess, so the UDP measured here competes with the flood for kdns's loop
and not for the test's. Its TCP cap and idle timeout are set small (50 connections, 1 s) by
patching the listener constants before `kdns.runtime.cli.main` runs; the long run with the
real defaults (1024, 10 s) is bench/faults_load.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import statistics
import struct
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from kdns.runtime.testing import free_port, proc_stats

CAP = 50
IDLE = 1.0
LAUNCH = (
    "import sys\n"
    "from kdns.runtime import listeners\n"
    "listeners.TCP_MAX_CONNECTIONS = int(sys.argv[1])\n"
    "listeners.TCP_IDLE_TIMEOUT = float(sys.argv[2])\n"
    "from kdns.runtime.cli import main\n"
    "sys.exit(main(sys.argv[3:]))\n"
)


@contextlib.asynccontextmanager
async def kdns(
    corefile: str, folder: Path, port: int, cap: int = CAP, idle: float = IDLE
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run kdns on `corefile` with the given TCP cap and idle timeout until the block ends."""
    conf = folder / "Corefile"
    conf.write_text(corefile)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        str(cap),
        str(idle),
        "-conf",
        str(conf),
        "-quiet",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not (await udp_burst(port, 1, 1000, "up.probe", timeout=0.3)).answered:
            assert proc.returncode is None, "kdns exited"
            assert time.monotonic() < deadline, "kdns did not start"
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)


class Burst(asyncio.DatagramProtocol):
    """UDP queries sent at a fixed rate; replies matched by ID with their latency."""

    def __init__(self) -> None:
        self.sent_at: dict[int, float] = {}
        self.latency: list[float] = []
        self.rcodes: dict[int, int] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Room for replies while this process is busy with the flood: a loss must be kdns's.
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = dns.message.from_wire(data)
        at = self.sent_at.pop(reply.id, None)
        if at is not None:
            self.latency.append(time.monotonic() - at)
            self.rcodes[reply.rcode()] = self.rcodes.get(reply.rcode(), 0) + 1

    @property
    def answered(self) -> int:
        """How many replies came back."""
        return len(self.latency)

    def p99(self) -> float:
        """The 99th percentile latency in seconds."""
        return statistics.quantiles(self.latency, n=100)[98] if len(self.latency) > 1 else 0.0


async def udp_burst(
    port: int, count: int, qps: float, name: str = "udp.example", timeout: float = 2.0
) -> Burst:
    """Send `count` UDP queries at `qps` from one socket; wait `timeout` for the stragglers."""
    loop = asyncio.get_running_loop()
    burst = Burst()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: burst, remote_addr=("127.0.0.1", port)
    )
    start = time.monotonic()
    for i in range(count):
        query = dns.message.make_query(name.replace("#", str(i)), "A")
        query.id = i
        burst.sent_at[i] = time.monotonic()
        transport.sendto(query.to_wire())
        ahead = start + (i + 1) / qps - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    deadline = time.monotonic() + timeout
    while burst.sent_at and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    transport.close()
    return burst


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """Tell whether the server closes the connection within `within` seconds."""
    try:
        while await asyncio.wait_for(reader.read(4096), within):
            pass
        return True
    except (TimeoutError, ConnectionError):
        return False


async def tcp_query(port: int, name: str) -> int:
    """Ask one question over a fresh TCP connection; return the rcode."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    wire = dns.message.make_query(name, "A").to_wire()
    writer.write(struct.pack("!H", len(wire)) + wire)
    (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 3))
    reply = dns.message.from_wire(await reader.readexactly(length))
    writer.close()
    return reply.rcode()


async def test_tcp_flood_is_capped_and_udp_keeps_answering(tmp_path: Path) -> None:
    """600 idle connections against a cap of 50: kdns holds at most 50 (fds say so), closes
    the rest at once and the held ones at the idle timeout; 1,000 UDP queries sent during
    the flood are all answered, p99 under 500 ms; TCP serves again afterwards."""
    port = free_port()
    async with kdns(f".:{port} {{\n    whoami\n}}\n", tmp_path, port) as proc:
        base_fds = proc_stats(proc.pid)[2]
        flood = [await asyncio.open_connection("127.0.0.1", port) for _ in range(600)]
        during = asyncio.create_task(udp_burst(port, 1000, 2000))
        await asyncio.sleep(0.2)
        held_fds = proc_stats(proc.pid)[2] - base_fds
        closed = await asyncio.gather(*(closed_by_server(r, 3 * IDLE) for r, _ in flood))
        burst = await during
        for _, writer in flood:
            writer.close()
        assert held_fds <= CAP + 2, held_fds  # (+2: a connection being accepted and closed)
        assert all(closed)  # over the cap at once, the rest at the idle timeout
        assert burst.rcodes == {dns.rcode.NOERROR: 1000}, burst.rcodes
        assert burst.p99() < 0.5, burst.p99()  # generous: the bench measures it
        assert await tcp_query(port, "after.example") == dns.rcode.NOERROR
        await asyncio.sleep(0.2)
        assert proc_stats(proc.pid)[2] <= base_fds + 1


async def test_slowloris_is_cut_by_the_read_timeout(tmp_path: Path) -> None:
    """80 clients trickling a query a byte every 300 ms (cap 50): the 30 over the cap are closed
    at once, the rest when a read outlasts the 1 s timeout; no query is answered to them,
    UDP answers all along."""
    port = free_port()
    wire = dns.message.make_query("slow.example", "A").to_wire()
    message = struct.pack("!H", len(wire)) + wire

    async def slow_client() -> tuple[float, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()
        got = b""
        with contextlib.suppress(ConnectionError):
            for byte in message:
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    got += await asyncio.wait_for(reader.read(4096), 0.3)
                except TimeoutError:
                    continue
                if reader.at_eof():
                    break
        writer.close()
        return time.monotonic() - start, got

    async with kdns(f".:{port} {{\n    whoami\n}}\n", tmp_path, port):
        clients = [asyncio.create_task(slow_client()) for _ in range(80)]
        burst = await udp_burst(port, 1000, 500)
        results = await asyncio.gather(*clients)
        held = sorted(seconds for seconds, _ in results)
        assert all(got == b"" for _, got in results)  # nothing was served to a slowloris
        assert sum(s < 0.7 for s in held) >= 30  # over the cap: closed at once
        # Two bytes of length within 1 s, then the body must come within 1 s: cut by ~2.4 s,
        # well before the 30 x 0.3 s = 9 s the whole message would take.
        assert held[-1] < 3 * IDLE, held
        assert burst.rcodes == {dns.rcode.NOERROR: 1000}, burst.rcodes
        assert await tcp_query(port, "after.example") == dns.rcode.NOERROR


class Sink(asyncio.DatagramProtocol):
    """An upstream that reads every query and answers none (a hung resolver)."""

    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, int]]:
    """A hung upstream on a free port."""
    port = free_port()
    protocol = Sink()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: protocol, local_addr=("127.0.0.1", port)
    )
    yield protocol, port
    transport.close()


async def test_max_concurrent_sheds_a_flood_to_a_hung_upstream(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    """4,000 distinct names in 2 s at an upstream that never answers, max_concurrent 100:
    all but the 100 in flight are REFUSED at once, RSS grows by under 20 MiB, and no more than
    100 queries are ever outstanding upstream (fds: one socket each)."""
    upstream, upstream_port = sink
    port = free_port()
    corefile = (
        f".:{port} {{\n    forward . 127.0.0.1:{upstream_port} {{\n"
        "        max_concurrent 100\n    }\n}\n"
        f"probe:{port} {{\n    whoami\n}}\n"
    )
    async with kdns(corefile, tmp_path, port) as proc:
        await asyncio.sleep(0.3)
        before = proc_stats(proc.pid)
        burst = await udp_burst(port, 4000, 2000, name="q#.flood.example", timeout=1.5)
        after = proc_stats(proc.pid)
        # 100 still wait (SERVFAIL when forward gives up on them); no other answer
        assert burst.rcodes.get(dns.rcode.REFUSED, 0) >= 3800, burst.rcodes
        assert set(burst.rcodes) <= {dns.rcode.REFUSED, dns.rcode.SERVFAIL}, burst.rcodes
        assert burst.answered >= 3900, burst.rcodes
        assert after[0] - before[0] < 20 * 1024, (before, after)
        assert after[1] <= before[1] + 1, (before, after)
        assert after[2] - before[2] <= 100 + 2, (before, after)
        assert upstream.received >= 100
        proc.kill()  # the 100 held would otherwise drain for seconds
        await proc.wait()
