"""loop: probes the server with a random HINFO query at start; seeing it thrice is a loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Callable

import dnslib
import structlog

from kdns.plugins.base import (
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.loop.config import LoopConfig

log = structlog.get_logger("plugin/loop")

HINFO = 13
#: How long the probe keeps trying, the pause after a failed try, how long one try waits,
#: and how long after a probe went through the plugin stands aside (CoreDNS's values).
PROBE_WINDOW, RETRY_PAUSE, PROBE_TIMEOUT, DISABLE_AFTER = 30.0, 1.0, 2.0, 2.0
TROUBLESHOOTING = "https://coredns.io/plugins/loop#troubleshooting"


def fatal(message: str) -> None:
    """Log `message` as CoreDNS's log.Fatal does and end the process with status 1."""
    log.critical(message)
    logging.shutdown()  # flush the handlers: os._exit skips every cleanup
    os._exit(1)


def listen_address(servers: tuple[str, ...]) -> tuple[str, str, int]:
    """Return how the block's first listener is written (`:53`), and where to probe it."""
    label = servers[0] if servers else "dns://:53"
    hostport = label.partition("://")[2] or label
    host, _, port = hostport.rpartition(":")
    bare = host.strip("[]")
    target = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(bare, bare)
    return hostport, target, int(port or 53)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Loop(Plugin[LoopConfig]):
    """Counts sightings of its own probe; more than two means queries go round in a loop."""

    name = "loop"

    def __init__(self, configs: tuple[LoopConfig, ...], nxt: Handler | None, ctx: BuildContext):
        super().__init__(configs, nxt, ctx)
        self.zone = self.config.zone
        labels = f"{random.getrandbits(63)}.{random.getrandbits(63)}."
        self.qname = labels if self.zone == "." else labels + self.zone
        self.address, self.target, self.port = listen_address(ctx.servers)
        #: Called with the fatal message when a loop is seen; tests put their own here.
        self.on_loop: Callable[[str], None] = fatal
        self.seen = 0
        #: Where each sighting of the probe came from, in order.
        self.path: list[str] = []
        self.disabled = False
        self.tripped = False
        self._task: asyncio.Task[None] | None = None

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Count the probe when it comes by; pass every query on."""
        if req.qtype == HINFO and not self.disabled and req.qname == self.qname:
            if self.tripped:
                return SERVFAIL  # the loop is reported: stop feeding it
            self.seen += 1
            self.path.append(_join(*req.remote))
            if self.seen > 2:
                self.tripped = True
                self.on_loop(self.message(req))
                return SERVFAIL
        return await next_or_failure(self.name, self.next, req, w)

    def message(self, req: Request) -> str:
        """Return CoreDNS's fatal message for a loop seen with `req`, and the probe's path."""
        return (
            f"Loop ({_join(*req.remote)} -> {self.address}) detected for zone "
            f'"{self.zone}", see {TROUBLESHOOTING}. Query: "HINFO {self.qname}" '
            f"Path: {' -> '.join(self.path)}"
        )

    async def start(self) -> None:
        """Send the probe from a background task (start must not wait for it)."""
        self._task = asyncio.get_running_loop().create_task(self._probe())

    async def stop(self) -> None:
        """Stop probing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROBE_WINDOW
        while loop.time() < deadline and not self.tripped:
            try:
                await self._exchange()
            except (OSError, TimeoutError):
                self.seen = 0
                self.path.clear()
                await asyncio.sleep(RETRY_PAUSE)
                continue
            await asyncio.sleep(DISABLE_AFTER)
            break
        self.disabled = True

    async def _exchange(self) -> None:
        """Ask the probe question of the server itself over UDP; raise if nothing answers."""
        query = dnslib.DNSRecord.question(self.qname, "HINFO")
        wire = query.pack()
        family = socket.AF_INET6 if ":" in self.target else socket.AF_INET
        loop = asyncio.get_running_loop()
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect((self.target, self.port))
            await loop.sock_sendall(sock, wire)
            async with asyncio.timeout(PROBE_TIMEOUT):
                while (await loop.sock_recv(sock, 65535))[:2] != wire[:2]:
                    pass


def build(configs: tuple[LoopConfig, ...], nxt: Handler | None, ctx: BuildContext) -> Loop:
    """Build the loop handler of a block."""
    return Loop(configs, nxt, ctx)
