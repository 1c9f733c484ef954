"""Corefile faults while serving: deleted, unreadable, half-written, garbage, emptied.

The running configuration keeps answering, the failed reload is logged with file:line:col, and
the next good Corefile is picked up. A hundred reloads in a row leave RSS, threads and file
descriptors where they were.

kdns runs as a subprocess. When the tests run as root (CI does), it is started through setpriv
without the capabilities that override file modes, so that `chmod 000` really makes the
Corefile unreadable: root reads any file whatever its mode.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import pytest

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


@dataclass
class Kdns:
    """A kdns subprocess serving a ConfigMap-style folder, and the lines it has logged."""

    proc: asyncio.subprocess.Process
    port: int
    folder: Path
    lines: list[str] = field(default_factory=list)
    version: int = 0

    @property
    def target(self) -> Path:
        """The real file behind the `Corefile` symlink (what a non-atomic writer edits)."""
        return self.folder / os.readlink(self.folder / "..data") / "Corefile"

    def publish(self, version: int) -> None:
        """Publish a good Corefile the way the kubelet does."""
        self.version = version
        link = self.folder / "Corefile"
        if link.is_symlink() and os.readlink(link) != "..data/Corefile":
            link.unlink()  # a fault re-pointed the key's link
        write_configmap(self.folder, {"Corefile": COREFILE.format(port=self.port, version=version)})

    async def address(self, timeout: float = 1.0) -> str | None:
        """Return the address served for changed.test."""
        query = dns.message.make_query("changed.test", "A")
        reply = await dns.asyncquery.udp(query, "127.0.0.1", port=self.port, timeout=timeout)
        return reply.answer[0][0].address if reply.answer else None

    async def wait_address(self, want: str, within: float = 10.0) -> None:
        """Wait until changed.test answers `want`."""
        deadline = time.monotonic() + within
        while True:
            try:
                if await self.address(0.3) == want:
                    return
            except dns.exception.Timeout:
                pass
            assert time.monotonic() < deadline, f"changed.test never became {want}"
            await asyncio.sleep(0.02)

    async def wait_line(self, pattern: str, after: int, within: float = 10.0) -> str:
        """Wait for a log line matching `pattern` among the lines from index `after` on."""
        deadline = time.monotonic() + within
        while True:
            for line in self.lines[after:]:
                if re.search(pattern, line):
                    return line
            assert self.proc.returncode is None, "kdns exited"
            assert time.monotonic() < deadline, f"no line like {pattern!r} in {self.lines[after:]}"
            await asyncio.sleep(0.02)


async def _collect(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert proc.stdout is not None
    async for raw in proc.stdout:
        lines.append(raw.decode(errors="replace").rstrip("\n"))


@pytest.fixture
async def kdns() -> AsyncIterator[Kdns]:
    """A kdns on a fresh ConfigMap folder, unprivileged when the tests run as root."""
    base = Path(tempfile.mkdtemp(prefix="kdns-config-faults-"))
    port = free_port()
    folder = base / "coredns"
    server = Kdns(None, port, folder)  # type: ignore[arg-type]
    server.publish(1)
    proc = await start_kdns(
        "-conf",
        str(folder / "Corefile"),
        unprivileged=True,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    server.proc = proc
    reader = asyncio.create_task(_collect(proc, server.lines))
    try:
        await server.wait_address("10.0.1.1", within=15)
        yield server
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 15)
        await reader
        shutil.rmtree(base, ignore_errors=True)


def _delete(k: Kdns) -> None:
    (k.folder / "Corefile").unlink()  # `rm Corefile`


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
    text = COREFILE.format(port=k.port, version=k.version + 50)
    k.target.write_text(text[: text.index("fallthrough")])  # cut inside the hosts block


def _binary(k: Kdns) -> None:
    k.target.write_bytes(b".:53 {\n    wh\xffami\n}\n")


def _garbage_text(k: Kdns) -> None:
    k.target.write_text("<html>\n  <body>404 Not Found</body>\n</html>\n")


def _emptied(k: Kdns) -> None:
    k.target.write_text("")


#: fault -> (what it does to the folder, the file:line:col error it must log)
FAULTS: dict[str, tuple[Callable[[Kdns], None], str]] = {
    "deleted": (_delete, r"Corefile:0:0: error: cannot read the Corefile: No such file"),
    "dangling symlink": (_dangling, r"Corefile:0:0: error: cannot read the Corefile: No such"),
    "directory": (_directory, r"Corefile:0:0: error: cannot read the Corefile: Is a directory"),
    "unreadable": (_unreadable, r"Corefile:0:0: error: cannot read the Corefile: Permission"),
    "truncated": (_truncated, r"Corefile:2:11: error: unexpected end of file"),
    "binary": (_binary, r"Corefile:2:7: error: the Corefile is not UTF-8 text \(byte 0xff\)"),
    "garbage": (_garbage_text, r"Corefile:\d+:\d+: error: "),
    "emptied": (_emptied, r"Corefile:1:1: error: no server block; keeping the running"),
}


async def test_corefile_faults_keep_the_running_config_until_a_good_one(kdns: Kdns) -> None:
    """Each fault: the old answers go on, the error names file:line:col, the fix is served."""
    for step, (fault, (inflict, error)) in enumerate(FAULTS.items(), start=2):
        mark = len(kdns.lines)
        served = f"10.0.{kdns.version}.1"
        inflict(kdns)
        line = await kdns.wait_line(error, mark)
        assert "[ERROR] plugin/reload: Corefile changed but reload failed: " in line, fault
        assert await kdns.address() == served, fault
        await asyncio.sleep(0.3)  # later file events and polls change nothing either
        assert await kdns.address() == served, fault
        kdns.publish(step)
        await kdns.wait_address(f"10.0.{step}.1")
    assert kdns.proc.returncode is None
    assert not any("Traceback" in line for line in kdns.lines)
    assert not any("changes detected" in line for line in kdns.lines)  # watchfiles is quiet


async def test_a_hundred_reloads_grow_no_memory_threads_or_descriptors(kdns: Kdns) -> None:
    """100 ConfigMap updates, each a real reload: RSS, threads and fds end where they began."""
    pid = kdns.proc.pid
    if os.geteuid() == 0:  # setpriv execs python in place: the pid is kdns's
        assert "kdns.runtime" in Path(f"/proc/{pid}/cmdline").read_text()

    async def reloads(first: int, count: int) -> None:
        for version in range(first, first + count):
            kdns.publish(version % 250 + 2)
            kdns.proc.send_signal(signal.SIGHUP)  # now, not after the watcher's debounce
            await kdns.wait_address(f"10.0.{version % 250 + 2}.1")

    await reloads(0, 20)  # warm up: imports, caches, allocator arenas
    await asyncio.sleep(0.3)
    before = proc_stats(pid)
    await reloads(20, 100)
    # a reload's sockets (a probe's, the old listeners') may still be closing: give them
    # two seconds to go before calling anything left a leak
    deadline = time.monotonic() + 2.0
    after = proc_stats(pid)
    while after[2] > before[2] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        after = proc_stats(pid)
    print(f"RSS/threads/fds before {before}, after {after}")
    # asyncio's default executor starts a worker thread when two jobs overlap and keeps it:
    # one or two more threads is that pool filling up; a leak would be one per reload
    assert after[1] <= before[1] + 2, f"threads {before[1]} -> {after[1]}"
    assert after[2] <= before[2], f"fds {before[2]} -> {after[2]}"
    assert after[0] - before[0] < 4096, f"RSS {before[0]} KiB -> {after[0]} KiB"
    await asyncio.sleep(0.2)
    done = sum("Reloading complete" in line for line in kdns.lines)
    assert done >= 120, done
