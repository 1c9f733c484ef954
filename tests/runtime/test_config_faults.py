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
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kdns.runtime.testing import free_port, proc_stats

from .config_faults import FAULTS, Served


@pytest.fixture
async def kdns() -> AsyncIterator[Served]:
    """A kdns on a fresh ConfigMap folder, unprivileged when the tests run as root."""
    base = Path(tempfile.mkdtemp(prefix="kdns-config-faults-"))
    server = Served(base / "coredns", free_port())
    server.publish(1)
    await server.start()
    try:
        await server.wait_address("10.0.1.1", within=15)
        yield server
    finally:
        await server.stop()
        shutil.rmtree(base, ignore_errors=True)


async def test_corefile_faults_keep_the_running_config_until_a_good_one(kdns: Served) -> None:
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


async def test_a_hundred_reloads_grow_no_memory_threads_or_descriptors(kdns: Served) -> None:
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
