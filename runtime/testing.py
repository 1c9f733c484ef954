"""Helpers for tests that run a real kdns server in-process and query it over sockets."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import ModuleType

import dns.asyncquery
import dns.message

from kdns.corefile import PluginSpec
from kdns.plugins import default_registry
from kdns.runtime.server import RunOptions, Server


def free_port() -> int:
    """Return a port free for UDP and TCP on every address, IPv4 and IPv6, right now.

    A server block without `bind` listens on all addresses, so a port taken on any one of
    them (an upstream's outgoing socket on the machine's own address, say) will not do.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("", 0))
            port = int(udp.getsockname()[1])
            if _free_elsewhere(port):
                return port
    raise RuntimeError("no free port found")


def _free_elsewhere(port: int) -> bool:
    """Tell whether TCP on IPv4 and UDP and TCP on IPv6 can all bind `port` on any address."""
    tries = [(socket.AF_INET, socket.SOCK_STREAM)]
    if socket.has_ipv6:
        tries += [(socket.AF_INET6, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_STREAM)]
    for family, kind in tries:
        with socket.socket(family, kind) as sock:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(("", port))
            except OSError:
                return False
    return True


#: The capabilities that let root read a file whatever its mode.
_DAC = "-dac_override,-dac_read_search"


async def start_kdns(
    *args: str, unprivileged: bool = False, **options: object
) -> asyncio.subprocess.Process:
    """Start `python -m kdns.runtime ARGS...` as a separate process; `options` go to
    `asyncio.create_subprocess_exec` (stdout, stderr, cwd...).

    `unprivileged`: when we are root, start it through setpriv without the capabilities that
    override file modes, so that a `chmod 000` file is unreadable to it as to any user; it
    stays uid 0 (it still reaches a checkout only root may enter). setpriv execs python in
    place, so the pid is still kdns's.
    """
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        prefix = ["setpriv", f"--inh-caps={_DAC}", f"--bounding-set={_DAC}", "--"]
    return await asyncio.create_subprocess_exec(
        *prefix,
        sys.executable,
        "-m",
        "kdns.runtime",
        *args,
        **options,  # type: ignore[arg-type]
    )


def proc_stats(pid: int) -> tuple[int, int, int]:
    """Return (RSS in KiB, threads, open file descriptors) of a process, from /proc."""
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


def import_path(name: str, path: Path) -> ModuleType:
    """Import the file `path` as module `name` (for tests/ files, which are not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.asynccontextmanager
async def running(
    corefile: str,
    folder: Path | None = None,
    registry: Mapping[str, PluginSpec] | None = None,
    **options: object,
) -> AsyncIterator[Server]:
    """Write `corefile` to a file, start a server on it, yield it, and stop it afterwards."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        path = folder / "Corefile"
        path.write_text(corefile)
        server = Server(
            RunOptions(conf=str(path), **options),  # type: ignore[arg-type]
            registry or default_registry(),
        )
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


async def query(
    port: int,
    name: str,
    rdtype: str = "A",
    *,
    tcp: bool = False,
    host: str = "127.0.0.1",
    ident: int | None = None,
    source_port: int = 0,
    timeout: float = 3.0,
    **make: object,
) -> dns.message.Message:
    """Ask a running server one question over UDP or TCP with dnspython; return the reply.

    Extra keywords go to `dns.message.make_query` (`use_edns`, `want_dnssec`, `rdclass`...).
    """
    msg = dns.message.make_query(name, rdtype, **make)  # type: ignore[arg-type]
    if ident is not None:
        msg.id = ident
    if tcp:
        return await dns.asyncquery.tcp(
            msg, host, port=port, timeout=timeout, source_port=source_port
        )
    return await dns.asyncquery.udp(msg, host, port=port, timeout=timeout, source_port=source_port)


class UdpLoad(asyncio.DatagramProtocol):
    """UDP queries for `name` (`#` is replaced by a counter) at a fixed rate until stopped.

    Replies are matched by ID and judged by `right(reply)`. What is sent, lost (no reply within
    2 s, or `wait` s at the end) and wrong is counted under the `phase` current when the query
    was sent, so one load can run through several faults.
    """

    def __init__(
        self, port: int, qps: float, name: str, right: Callable[[dns.message.Message], bool]
    ) -> None:
        self.port, self.qps, self.name, self.right = port, qps, name, right
        self.phase = ""
        #: Stop after this many queries (None: when `stop` is set).
        self.limit: int | None = None
        self.count = 0
        self.sent: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.wrong: Counter[str] = Counter()
        self.waiting: dict[int, tuple[float, str]] = {}
        self.latency: list[float] = []
        self.rcodes: Counter[int] = Counter()
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
        self.latency.append(time.monotonic() - sent[0])
        self.rcodes[reply.rcode()] += 1
        if not self.right(reply):
            self.wrong[sent[1]] += 1

    async def run(self, wait: float = 2.0) -> None:
        """Send until stopped (or `limit` sent), then wait `wait` s for the last replies."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, remote_addr=("127.0.0.1", self.port))
        assert self.transport is not None
        start = time.monotonic()
        while not self.stop.is_set() and (self.limit is None or self.count < self.limit):
            due = int((time.monotonic() - start) * self.qps)
            if self.limit is not None:
                due = min(due, self.limit)
            while self.count < due:
                query = dns.message.make_query(self.name.replace("#", str(self.count)), "A")
                query.id = self.count % 65536
                self.waiting[query.id] = (time.monotonic(), self.phase)
                self.transport.sendto(query.to_wire())
                self.sent[self.phase] += 1
                self.count += 1
            self.expire(max(wait, 2.0))
            await asyncio.sleep(0.002)
        deadline = time.monotonic() + wait
        while self.waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.expire(0.0)
        self.transport.close()

    def expire(self, older_than: float) -> None:
        """Count queries unanswered for `older_than` seconds as lost."""
        now = time.monotonic()
        for ident, (at, phase) in list(self.waiting.items()):
            if now - at >= older_than:
                del self.waiting[ident]
                self.lost[phase] += 1

    def summary(self) -> str:
        """Median and p99 latency in ms."""
        if len(self.latency) < 2:
            return "no replies"
        q = statistics.quantiles(self.latency, n=100)
        return f"UDP p50 {q[49] * 1000:.1f} ms p99 {q[98] * 1000:.1f} ms"
