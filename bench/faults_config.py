"""Corefile faults under load: each fault many times, then a thousand reloads in a row.

Starts `kdns -conf` on a ConfigMap-style folder (tests/runtime/config_faults.py: without the
file-mode capabilities when run as root, so that `chmod 000` really blocks reads), keeps a
steady UDP load on a name whose answer names the configuration version, and injects each fault
of that module repeatedly: the Corefile deleted, replaced by a dangling symlink or a directory,
made unreadable, truncated mid-block, replaced by binary or text garbage, emptied. After
each, the failed reload must be logged with file:line:col and the old answer must go on; then
a good Corefile is published and must be served. Finally
`--reloads` good updates in a row (each a real reload) while RSS, threads and descriptors of
the kdns process are read from /proc.

A query is lost without a reply within 2 s, wrong if not NOERROR with one A record from a
version that was published. One row per fault:

    python bench/faults_config.py [--rounds 20] [--reloads 1000] [--qps 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import dns.message
import dns.rcode

from kdns.runtime.testing import free_port, import_path, proc_stats

#: The Corefile, the kdns on its folder and the faults, shared with the tests.
CF = import_path("config_faults", Path(__file__).parent.parent / "tests/runtime/config_faults.py")


class Load(asyncio.DatagramProtocol):
    """Steady UDP queries for changed.test; counts sent, lost and wrong per phase."""

    def __init__(self, port: int, qps: int) -> None:
        self.port, self.qps = port, qps
        self.phase = "start"
        self.sent: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.wrong: Counter[str] = Counter()
        self.valid: set[str] = set()
        self.waiting: dict[int, tuple[float, str]] = {}
        self.stop = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # Room for replies while this process is busy: a loss must be kdns's, not ours.
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = dns.message.from_wire(data)
        sent = self.waiting.pop(reply.id, None)
        if sent is None:
            return
        answer = [rd.address for rrs in reply.answer for rd in rrs]
        if reply.rcode() != dns.rcode.NOERROR or len(answer) != 1 or answer[0] not in self.valid:
            self.wrong[sent[1]] += 1

    async def run(self) -> None:
        """Send until stopped, then wait out the last replies."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, remote_addr=("127.0.0.1", self.port))
        assert self.transport is not None
        start, count = time.monotonic(), 0
        while not self.stop.is_set():
            while count < int((time.monotonic() - start) * self.qps):
                query = dns.message.make_query("changed.test", "A")
                query.id = count % 65536
                self.waiting[query.id] = (time.monotonic(), self.phase)
                self.transport.sendto(query.to_wire())
                self.sent[self.phase] += 1
                count += 1
            self.expire(2.0)
            await asyncio.sleep(0.005)
        await asyncio.sleep(2.0)
        self.expire(0.0)
        self.transport.close()

    def expire(self, older_than: float) -> None:
        """Count queries unanswered for `older_than` seconds as lost."""
        now = time.monotonic()
        for ident, (at, phase) in list(self.waiting.items()):
            if now - at >= older_than:
                del self.waiting[ident]
                self.lost[phase] += 1


class Kdns(CF.Served):
    """The kdns process serving the folder; publishing a version makes its answer valid."""

    def __init__(self, folder: Path, port: int, load: Load) -> None:
        super().__init__(folder, port)
        self.load = load

    def publish(self, version: int) -> None:
        """Publish a good Corefile as the kubelet does; its answer becomes a right one."""
        self.load.valid.add(f"10.0.{version}.1")
        super().publish(version)


FAULTS = CF.FAULTS
COMMAND = "python bench/faults_config.py"


async def run(rounds: int, reloads: int, qps: int) -> list[tuple[str, str, int, int, int]]:
    """Inject every fault `rounds` times, then do `reloads` reloads; return the table rows."""
    base = Path(tempfile.mkdtemp(prefix="kdns-faults-config-"))
    port = free_port()
    load = Load(port, qps)
    kdns = Kdns(base / "coredns", port, load)
    kdns.publish(1)
    await kdns.start()
    rows: list[tuple[str, str, int, int, int]] = []
    try:
        await kdns.wait_address("10.0.1.1", within=30)
        runner = asyncio.create_task(load.run())
        version = 1
        for fault, (inflict, error) in FAULTS.items():
            load.phase = fault
            for _ in range(rounds):
                mark = len(kdns.lines)
                served = f"10.0.{kdns.version}.1"
                inflict(kdns)
                await kdns.wait_line(error, mark)
                if await kdns.address() != served:
                    raise RuntimeError(f"{fault}: the old configuration stopped answering")
                version = version % 250 + 1
                kdns.publish(version)
                await kdns.wait_address(f"10.0.{version}.1")
            rows.append((fault, f"{rounds} injections, each then fixed", 0, 0, 0))
        load.phase = "reloads"
        for _ in range(20):  # warm-up
            version = version % 250 + 1
            kdns.publish(version)
            await kdns.wait_address(f"10.0.{version}.1")
        before = proc_stats(kdns.proc.pid)
        for _ in range(reloads):
            version = version % 250 + 1
            kdns.publish(version)
            await kdns.wait_address(f"10.0.{version}.1")
        await asyncio.sleep(1.0)
        after = proc_stats(kdns.proc.pid)
        rows.append(
            (
                "reloads in a row",
                f"{reloads} reloads; RSS {before[0] // 1024}->{after[0] // 1024} MiB, threads "
                f"{before[1]}->{after[1]}, fds {before[2]}->{after[2]}",
                0,
                0,
                0,
            )
        )
        load.stop.set()
        await runner
    finally:
        await kdns.stop()
        shutil.rmtree(base, ignore_errors=True)
    tracebacks = sum("Traceback" in line for line in kdns.lines)
    if tracebacks:
        raise RuntimeError(f"kdns logged {tracebacks} tracebacks")
    phases = {"reloads in a row": "reloads"}
    return [
        (name, inputs, load.sent[p], load.lost[p], load.wrong[p])
        for name, inputs, *_ in rows
        for p in [phases.get(name, name)]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="injections of each fault")
    parser.add_argument("--reloads", type=int, default=1000, help="good reloads in a row")
    parser.add_argument("--qps", type=int, default=1000, help="UDP load during the run")
    args = parser.parse_args()
    rows = asyncio.run(run(args.rounds, args.reloads, args.qps))
    print("fault | inputs tried | queries sent | lost | wrong | command")
    print("--- | --- | --- | --- | --- | ---")
    for fault, inputs, sent, lost, wrong in rows:
        print(f"{fault} | {inputs} | {sent} | {lost} | {wrong} | {COMMAND}")
    return 0 if all(row[3] == row[4] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
