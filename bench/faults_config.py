"""Corefile faults under load: each fault many times, then a thousand reloads in a row.

Starts `kdns -conf` on a ConfigMap-style folder (as uid 65534 when run as root, so that
`chmod 000` really blocks reads), keeps a steady UDP load on a name whose answer names the
configuration version, and injects each fault repeatedly: the Corefile deleted, replaced by a
dangling symlink or a directory, made unreadable, truncated mid-block, replaced by binary or
text garbage, emptied. After each, the failed reload must be logged with file:line:col and the
old answer must go on; then a good Corefile is published and must be served. Finally
`--reloads` good updates in a row (each a real reload) while RSS, threads and descriptors of
the kdns process are read from /proc.

A query is lost without a reply within 2 s, wrong if not NOERROR with one A record from a
version that was published. One row per fault:

    python bench/faults_config.py [--rounds 20] [--reloads 1000] [--qps 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.rcode

from kdns.runtime.configmap import write_configmap
from kdns.runtime.testing import free_port, proc_stats, start_kdns

COREFILE = """\
.:{port} {{
    hosts {{
        10.0.{version}.1 changed.test
        fallthrough
    }}
    whoami
    reload 2s
}}
"""


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


class Kdns:
    """The kdns process, its folder, and its log lines."""

    def __init__(self, folder: Path, port: int, load: Load) -> None:
        self.folder, self.port, self.load = folder, port, load
        self.lines: list[str] = []
        self.version = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None

    @property
    def target(self) -> Path:
        """The real file behind the `Corefile` symlink."""
        return self.folder / os.readlink(self.folder / "..data") / "Corefile"

    def publish(self, version: int) -> None:
        """Publish a good Corefile as the kubelet does."""
        self.version = version
        self.load.valid.add(f"10.0.{version}.1")
        link = self.folder / "Corefile"
        if link.is_symlink() and os.readlink(link) != "..data/Corefile":
            link.unlink()
        write_configmap(self.folder, {"Corefile": COREFILE.format(port=self.port, version=version)})

    async def start(self) -> None:
        """Start kdns on the folder, unprivileged when we are root."""
        self.proc = await start_kdns(
            "-conf",
            str(self.folder / "Corefile"),
            unprivileged=True,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.reader = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    async def address(self) -> str | None:
        """Return what changed.test answers now (None on a timeout)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()

        class One(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if not future.done():
                    future.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(
            One, remote_addr=("127.0.0.1", self.port)
        )
        try:
            transport.sendto(dns.message.make_query("changed.test", "A").to_wire())
            reply = dns.message.from_wire(await asyncio.wait_for(future, 0.5))
        except TimeoutError:
            return None
        finally:
            transport.close()
        return reply.answer[0][0].address if reply.answer else None

    async def wait_address(self, want: str, within: float = 15.0) -> None:
        """Wait until changed.test answers `want`."""
        deadline = time.monotonic() + within
        while await self.address() != want:
            if time.monotonic() > deadline:
                raise RuntimeError(f"changed.test never became {want}")
            await asyncio.sleep(0.01)

    async def wait_line(self, pattern: str, after: int, within: float = 15.0) -> None:
        """Wait for a log line matching `pattern` after line index `after`."""
        deadline = time.monotonic() + within
        while not any(re.search(pattern, line) for line in self.lines[after:]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no log line like {pattern!r}")
            await asyncio.sleep(0.01)


def _delete(k: Kdns) -> None:
    (k.folder / "Corefile").unlink()


def _dangling(k: Kdns) -> None:
    link = k.folder / "Corefile"
    link.unlink()
    link.symlink_to("..data/nowhere")


def _directory(k: Kdns) -> None:
    target = k.target
    target.unlink()
    target.mkdir()


def _unreadable(k: Kdns) -> None:
    k.target.chmod(0)


def _truncated(k: Kdns) -> None:
    text = COREFILE.format(port=k.port, version=k.version + 1)
    k.target.write_text(text[: text.index("fallthrough")])


def _binary(k: Kdns) -> None:
    k.target.write_bytes(os.urandom(64) + b"\xff")


def _garbage(k: Kdns) -> None:
    k.target.write_text("<html>\n  <body>404 Not Found</body>\n</html>\n")


def _emptied(k: Kdns) -> None:
    k.target.write_text("")


FAULTS: dict[str, tuple[Callable[[Kdns], None], str]] = {
    "Corefile deleted": (_delete, r"Corefile:0:0: error: cannot read"),
    "dangling symlink": (_dangling, r"Corefile:0:0: error: cannot read"),
    "directory in place": (_directory, r"Corefile:0:0: error: cannot read .*directory"),
    "unreadable (chmod 000)": (_unreadable, r"Corefile:0:0: error: cannot read .*Permission"),
    "half-written": (_truncated, r"Corefile:2:11: error: unexpected end of file"),
    "binary garbage": (_binary, r"Corefile:\d+:\d+: error: "),
    "text garbage": (_garbage, r"Corefile:\d+:\d+: error: "),
    "emptied": (_emptied, r"Corefile:1:1: error: no server block"),
}
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
        assert kdns.proc is not None
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
        if kdns.proc is not None and kdns.proc.returncode is None:
            kdns.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(kdns.proc.wait(), 20)
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
