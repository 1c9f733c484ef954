"""Load faults against a kdns process with its real limits (1,024 TCP connections per listener,
10 s idle/read timeout), with a steady UDP load whose answers and latency are measured.

- TCP connection flood: `--connections` idle connections opened as fast as possible and held;
  kdns's descriptors are sampled to show the cap holding, and every connection must be closed
  by kdns (at once past the cap, at the idle timeout otherwise).
- slowloris: `--slow` clients each trickle one query a byte every 3 s; kdns must cut each when
  a read outlasts its timeout and answer none of them.
- query flood to a hung upstream: `--queries` distinct names at `forward` whose upstream never
  answers, once with `max_concurrent 100` (shed with REFUSED at once) and once without (every
  query held until forward gives up with SERVFAIL); RSS before and after.

A UDP query is lost without a reply within 2 s, wrong if its rcode is not the expected one
(NOERROR for the steady load; REFUSED or SERVFAIL for the flood). One row per fault:

    python bench/faults_load.py [--connections 3000] [--slow 300] [--queries 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import dns.message
import dns.rcode

from kdns.runtime.testing import UdpLoad, free_port, proc_stats, start_kdns

COMMAND = "python bench/faults_load.py"
Row = tuple[str, str, int, int, int]


def rcode_in(*rcodes: int) -> Callable[[dns.message.Message], bool]:
    """Judge a reply right when its rcode is one of `rcodes`."""
    return lambda reply: reply.rcode() in rcodes


@contextlib.asynccontextmanager
async def kdns(corefile: str, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `kdns -conf` on `corefile` (real defaults) until the block ends."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "Corefile"
        conf.write_text(corefile)
        proc = await start_kdns(
            "-conf",
            str(conf),
            "-quiet",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                probe = UdpLoad(port, 100, "up.probe", rcode_in(dns.rcode.NOERROR))
                probe.limit = 1
                await probe.run(wait=0.3)
                if probe.latency:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("kdns did not start")
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def with_steady_udp(port: int, fault: Callable[[], Awaitable[str]]) -> tuple[UdpLoad, str]:
    """Run `fault` while a steady 1,000 qps UDP load runs; return the load and its note."""
    load = UdpLoad(port, 1000, "steady#.example", rcode_in(dns.rcode.NOERROR))
    runner = asyncio.create_task(load.run())
    note = await fault()
    load.stop.set()
    await runner
    return load, note


async def flood_client(connections: int, port: int) -> list[float]:
    """Open `connections` idle connections; return, sorted, when kdns closed each."""
    flood = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    start = time.monotonic()

    async def closed(reader: asyncio.StreamReader) -> float:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        return time.monotonic() - start

    times = sorted(await asyncio.wait_for(asyncio.gather(*(closed(r) for r, _ in flood)), 60))
    for _, writer in flood:
        writer.close()
    return times


async def slow_clients(clients: int, port: int) -> list[tuple[float, int]]:
    """Trickle one query a byte every 3 s on each of `clients` connections; return for each
    how long kdns kept it and how many bytes it answered."""
    wire = dns.message.make_query("slow.example", "A").to_wire()
    message = struct.pack("!H", len(wire)) + wire

    async def client() -> tuple[float, int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start, got = time.monotonic(), b""
        with contextlib.suppress(ConnectionError):
            for byte in message:
                writer.write(bytes([byte]))
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    got += await asyncio.wait_for(reader.read(4096), 3.0)
                if reader.at_eof():
                    break
        writer.close()
        return time.monotonic() - start, len(got)

    return list(await asyncio.gather(*(client() for _ in range(clients))))


async def in_child(mode: str, count: int, port: int) -> object:
    """Run a flood client in a child process (its work must not stall our UDP measurement)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        mode,
        str(count),
        str(port),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return json.loads(out)


async def tcp_flood(connections: int) -> Row:
    """Idle TCP connections far past the cap while UDP is measured."""
    port = free_port()
    async with kdns(f".:{port} {{\n    whoami\n}}\nprobe:{port} {{\n    whoami\n}}\n", port) as p:
        base = proc_stats(p.pid)[2]

        async def fault() -> str:
            child = asyncio.create_task(in_child("flood", connections, port))
            peak = 0
            while not child.done():
                peak = max(peak, proc_stats(p.pid)[2] - base)
                await asyncio.sleep(0.1)
            times: list[float] = child.result()  # type: ignore[assignment]
            at_once = sum(t < 1.0 for t in times)
            return (
                f"{connections} connections: kdns held at most {peak} fds over its base, "
                f"{at_once} closed at once, the last after {times[-1]:.1f} s"
            )

        load, note = await with_steady_udp(port, fault)
    return (
        "TCP connection flood (cap 1024)",
        f"{note}; {load.summary()}",
        load.sent.total(),
        load.lost.total(),
        load.wrong.total(),
    )


async def slowloris(clients: int) -> Row:
    """Clients trickling a query a byte every 3 s while UDP is measured."""
    port = free_port()
    async with kdns(f".:{port} {{\n    whoami\n}}\nprobe:{port} {{\n    whoami\n}}\n", port):

        async def fault() -> str:
            results: list[tuple[float, int]] = await in_child("slow", clients, port)  # type: ignore[assignment]
            served = sum(bool(got) for _, got in results)
            longest = max(t for t, _ in results)
            return (
                f"{clients} clients at 1 byte/3 s: longest held {longest:.0f} s "
                f"(a whole query would take 96 s), {served} served"
            )

        load, note = await with_steady_udp(port, fault)
    wrong = load.wrong.total() + (0 if note.endswith(" 0 served") else 1)
    return (
        "slowloris (10 s read timeout)",
        f"{note}; {load.summary()}",
        load.sent.total(),
        load.lost.total(),
        wrong,
    )


async def hung_upstream(queries: int, limit: int) -> Row:
    """A flood of distinct names to an upstream that never answers."""
    up_port, port = free_port(), free_port()
    loop = asyncio.get_running_loop()
    sink, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", up_port)
    )
    option = f" {{\n        max_concurrent {limit}\n    }}" if limit else ""
    corefile = (
        f".:{port} {{\n    forward . 127.0.0.1:{up_port}{option}\n}}\n"
        f"probe:{port} {{\n    whoami\n}}\n"
    )
    try:
        async with kdns(corefile, port) as proc:
            before = proc_stats(proc.pid)
            flood = UdpLoad(
                port, 2000, "q#.flood.example", rcode_in(dns.rcode.REFUSED, dns.rcode.SERVFAIL)
            )
            flood.limit = queries
            peak = 0

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, proc_stats(proc.pid)[0])
                    await asyncio.sleep(0.1)

            sampler = asyncio.create_task(sample())
            await flood.run(wait=8.0)  # forward gives up on a dead upstream after 5 s
            sampler.cancel()
    finally:
        sink.close()
    name = (
        f"flood to a hung upstream, max_concurrent {limit}"
        if limit
        else ("flood to a hung upstream, no max_concurrent")
    )
    counts = ", ".join(f"{dns.rcode.to_text(k)} {v}" for k, v in sorted(flood.rcodes.items()))
    note = (
        f"{queries} names at 2000 qps: {counts}; RSS {before[0] // 1024} -> peak {peak // 1024} MiB"
    )
    return (name, note, flood.sent.total(), flood.lost.total(), flood.wrong.total())


async def run(args: argparse.Namespace) -> list[Row]:
    """Run every fault once; return the rows."""
    return [
        await tcp_flood(args.connections),
        await slowloris(args.slow),
        await hung_upstream(args.queries, 100),
        await hung_upstream(args.queries, 0),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=3000, help="TCP flood size")
    parser.add_argument("--slow", type=int, default=300, help="slowloris clients")
    parser.add_argument("--queries", type=int, default=20000, help="flood to the hung upstream")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # a flood client started by in_child()
        mode, count, port = args.child[0], int(args.child[1]), int(args.child[2])
        work = flood_client if mode == "flood" else slow_clients
        print(json.dumps(asyncio.run(work(count, port))))  # type: ignore[operator]
        return 0
    rows = asyncio.run(run(args))
    print("fault | inputs tried | queries sent | lost | wrong | command")
    print("--- | --- | --- | --- | --- | ---")
    for fault, inputs, sent, lost, wrong in rows:
        print(f"{fault} | {inputs} | {sent} | {lost} | {wrong} | {COMMAND}")
    return 0 if all(row[3] == row[4] == 0 for row in rows) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
