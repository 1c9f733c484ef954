"""health: /health answers 200 OK while the process runs; a self-poll measures how fast."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from kdns.plugins.base import BuildContext, Handler, Plugin, Route, ServerState
from kdns.plugins.health.config import DEFAULT_PORT, HealthConfig
from kdns.plugins.metrics import REGISTRY

log = structlog.get_logger("plugin/health")

#: CoreDNS's SlimTimeBuckets: 0.25ms times ten, five times.
SLIM_BUCKETS = tuple(0.00025 * 10**k for k in range(5))
DURATION = REGISTRY.histogram(
    "coredns_health_request_duration_seconds",
    "Histogram of the time (in seconds) each request took.",
    (),
    SLIM_BUCKETS,
)
FAILURES = REGISTRY.counter(
    "coredns_health_request_failures_total", "The number of times the health check failed."
)

#: How often the endpoint polls itself, and how long one poll may take.
POLL_INTERVAL = 1.0
POLL_TIMEOUT = 3.0
#: A local poll slower than this is worth a warning (CoreDNS's threshold).
SLOW = 1.0

CONTENT_TYPE = "text/plain; charset=utf-8"


def health_route(state: ServerState) -> tuple[int, str, bytes]:
    """Answer 200 OK: the process is up, also while it lingers in the lameduck."""
    return 200, CONTENT_TYPE, b"OK"


def poll_host(host: str) -> str:
    """Return the address to reach a listener bound to `host` from this machine."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


class Poller:
    """Polls one /health address once a second and records how long it took."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = poll_host(host), port
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}/health"
        self.clock: Callable[[], float] = time.perf_counter
        self.task: asyncio.Task[None] | None = None

    async def poll_once(self) -> bool:
        """GET /health once; record the duration (and a failure); return True if it answered."""
        start = self.clock()
        try:
            async with asyncio.timeout(POLL_TIMEOUT):
                await self._get()
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            DURATION.observe((), self.clock() - start)
            FAILURES.inc()
            reason = str(exc) or type(exc).__name__
            log.warning(f'Local health request to "{self.url}" failed: {reason}')
            return False
        elapsed = self.clock() - start
        DURATION.observe((), elapsed)
        if elapsed > SLOW:
            log.warning(f'Local health request to "{self.url}" took more than 1s: {elapsed:.3f}s')
        return True

    async def _get(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(
                f"GET /health HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            status = await reader.readline()
            if not status.startswith(b"HTTP/"):
                raise ConnectionError("malformed HTTP response")
            await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def run(self, interval: float = POLL_INTERVAL) -> None:
        """Poll every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.poll_once()


#: The poller of each address and the health handlers that want it: blocks sharing an
#: address, and the two generations alive during a reload, share one poll.
_POLLERS: dict[tuple[str, int], tuple[Poller, set[int]]] = {}


def _acquire(address: tuple[str, int], holder: int) -> None:
    entry = _POLLERS.get(address)
    loop = asyncio.get_running_loop()
    if entry is not None and (entry[0].task is None or entry[0].task.get_loop() is not loop):
        entry = None  # left behind by an event loop that is gone
    if entry is None:
        poller = Poller(*address)
        poller.task = loop.create_task(poller.run())
        entry = _POLLERS[address] = (poller, set())
    entry[1].add(holder)


async def _release(address: tuple[str, int], holder: int) -> None:
    entry = _POLLERS.get(address)
    if entry is None:
        return
    poller, holders = entry
    holders.discard(holder)
    if holders:
        return
    del _POLLERS[address]
    task = poller.task
    if task is not None and task.get_loop() is asyncio.get_running_loop():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Health(Plugin[HealthConfig]):
    """Side service: serves /health, polls it, and asks the server for a lameduck on exit."""

    name = "health"

    def __init__(
        self, configs: tuple[HealthConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        # Repeated in a block, CoreDNS keeps the last address given and the last lameduck set.
        chosen = [c for c in configs if (c.host, c.port) != ("", DEFAULT_PORT)]
        address = chosen[-1] if chosen else configs[-1]
        lameducks = [c.lameduck for c in configs if c.lameduck > 0]
        self.address = (address.host, address.port)
        self.pause = lameducks[-1] if lameducks else 0.0
        self.polling = False

    def http_address(self) -> tuple[str, int]:
        """Return where /health listens."""
        return self.address

    def http_routes(self) -> dict[str, Route]:
        """Serve /health."""
        return {"/health": health_route}

    def lameduck(self) -> float:
        """Return the seconds the server keeps answering after it was asked to stop."""
        return self.pause

    async def start(self) -> None:
        """Start polling /health once a second."""
        # Both metrics are exported from the start (0 failures, an empty histogram).
        FAILURES.inc((), 0.0)
        DURATION.counts.setdefault((), [0] * (len(DURATION.buckets) + 1))
        DURATION.sums.setdefault((), 0.0)
        _acquire(self.address, id(self))
        self.polling = True

    async def stop(self) -> None:
        """Stop polling (the poll goes on while another block or generation still wants it)."""
        if self.polling:
            self.polling = False
            await _release(self.address, id(self))
