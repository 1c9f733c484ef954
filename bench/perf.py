"""What the benchmarks share: ports, process CPU and RSS from /proc, dnsperf runs and parsing,
a paced UDP load.

Imported by the scripts next to it (`python bench/X.py` puts bench/ on sys.path).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_GIVEN: set[int] = set()


def free_port() -> int:
    """Return a port free for both UDP and TCP on every IPv4 address, never the same one twice."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("", port))
                except OSError:
                    continue
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def tree(pid: int) -> list[int]:
    """Return `pid` and every process below it (kdns --workers: the supervisor and workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo.extend(int(child) for child in task.read_text().split())
    return found


def cpu_threads(pid: int) -> dict[tuple[int, int], int]:
    """Return the nanoseconds each thread of `pid` and the processes below it has run, by
    (process, thread): the scheduler's own count (/proc/PID/task/TID/schedstat), not the 10 ms
    ticks of /proc/PID/stat, which made a tenth of a 10,000-query pass's figure."""
    found = {}
    for member in tree(pid):
        for task in Path(f"/proc/{member}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):  # the thread ended meanwhile
                found[(member, int(task.name))] = int((task / "schedstat").read_text().split()[0])
    return found


def cpu_between(before: dict[tuple[int, int], int], after: dict[tuple[int, int], int]) -> float:
    """Return the CPU seconds run between two `cpu_threads` readings (a thread that ended in
    between is left out: the server's threads live as long as it does)."""
    return sum(ns - before.get(thread, 0) for thread, ns in after.items()) / 1e9


def peak_rss_mib(pid: int) -> float:
    """Return the peak RSS (VmHWM) of `pid` and the processes below it, added up."""
    total = 0.0
    for member in tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def wait_ready(port: int, name: str) -> None:
    query = (
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        + b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
        + b"\x00\x00\x01\x00\x01"
    )
    deadline = time.monotonic() + 20
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        while time.monotonic() < deadline:
            s.sendto(query, ("127.0.0.1", port))
            try:
                s.recv(512)
                return
            except TimeoutError:
                continue
    raise RuntimeError(f"server on port {port} did not answer")


@dataclass
class Result:
    name: str
    qps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_per_1000: float = 0.0
    rss_mib: float = 0.0
    sent: int = 0
    lost: int = 0

    @property
    def answered(self) -> float:
        """The share of queries sent that got an answer, in percent."""
        return 100.0 * (self.sent - self.lost) / self.sent if self.sent else 0.0


#: `taskset` prefixes that keep the load generator and the servers on separate cores (set by
#: pin()); empty: no pinning.
CLIENT_CPUS: list[str] = []
SERVER_CPUS: list[str] = []


def pin() -> bool:
    """Run dnsperf on the last core and the servers on the others; False if not possible."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or shutil.which("taskset") is None:
        return False
    CLIENT_CPUS[:] = ["taskset", "-c", str(cores[-1])]
    SERVER_CPUS[:] = ["taskset", "-c", ",".join(str(c) for c in cores[:-1])]
    return True


def dnsperf(
    port: int,
    queries: Path,
    seconds: float,
    qps: float | None = None,
    verbose: bool = False,
    once: bool = False,
) -> str:
    """Run dnsperf against 127.0.0.1:port and return its report (`once`: the file one time)."""
    cmd = [*CLIENT_CPUS, "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries)]
    cmd += ["-n", "1"] if once else ["-l", str(seconds)]
    cmd += ["-c", "8", "-q", "500", "-t", "2"]
    if qps:
        cmd += ["-Q", str(int(qps))]
    if verbose:
        cmd.append("-v")
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _field(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"dnsperf report without {pattern!r}:\n{text}")
    return float(found.group(1))


def throughput(
    result: Result, pid: int, port: int, queries: Path, seconds: float, once: bool = False
) -> None:
    """Fill in the maximum qps, the lost queries and the server's CPU per 1,000 answers."""
    before = cpu_threads(pid)
    out = dnsperf(port, queries, seconds, once=once)
    used = cpu_between(before, cpu_threads(pid))
    result.qps = _field(r"Queries per second:\s+([\d.]+)", out)
    completed = _field(r"Queries completed:\s+(\d+)", out)
    result.sent = int(_field(r"Queries sent:\s+(\d+)", out))
    result.lost = int(_field(r"Queries lost:\s+(\d+)", out))
    result.cpu_per_1000 = used / max(completed, 1) * 1000
    result.rss_mib = peak_rss_mib(pid)


#: Seconds at the start of a latency run left out of its percentiles: dnsperf's own start
#: (its clients connecting and filling their windows at once) delays the first ~100 ms of
#: replies from dnsmasq and kdns alike, and made up more than half of the slowest 1%.
LATENCY_WARMUP = 0.5


def latency(result: Result, port: int, queries: Path, qps: float, seconds: float) -> None:
    """Fill in p50 and p99 latency at a fixed offered load of `qps` (after LATENCY_WARMUP)."""
    out = dnsperf(port, queries, seconds, qps, verbose=True)
    found = [float(x) for x in re.findall(r"^> \S+ .* ([\d.]+)$", out, re.M)]
    latencies = sorted(found[int(qps * LATENCY_WARMUP) :])  # replies arrive in order
    if latencies:
        result.p50_ms = statistics.median(latencies) * 1000
        result.p99_ms = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
