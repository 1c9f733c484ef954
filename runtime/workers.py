"""`kdns serve --workers N`: a supervisor and N worker processes answering on the same ports.

The supervisor loads and checks the Corefile as a single server does, then starts the workers
(worker.py), each a Server bound with SO_REUSEPORT, so the kernel spreads queries over them.
It alone talks to the Kubernetes API (one watch per distinct kubernetes configuration, relayed
to the workers by plugins/kubernetes/relay.py) and serves health, ready and metrics: /ready is
OK when every worker is, /metrics adds up the workers' counters and histograms (gauges: the
largest value) to the supervisor's own, and /health fails while a worker is not running.

A reload is all or nothing: the supervisor loads the new Corefile and builds it (a broken one
stops there), every worker prepares it beside the running one (build, open, start), and only
when all have, every worker is told to swap it in; if one fails, all drop it. A worker that
exits is started again with the running configuration. SIGTERM goes on to the workers, which
lameduck and drain as a single server does; the supervisor exits once they all have.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pickle
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from kdns.corefile import Corefile, PluginSpec
from kdns.plugins.base import (
    Handler,
    HttpRoutes,
    Route,
    ServerState,
    Startable,
)
from kdns.plugins.kubernetes.relay import Hub
from kdns.plugins.metrics import REGISTRY
from kdns.runtime.chain import BuildError
from kdns.runtime.generation import Generation, ListenKey, config_digest, stop_handlers
from kdns.runtime.listeners import bound_socket, listen_addresses
from kdns.runtime.server import RunOptions, Server, http_routes_of, lameduck_of
from kdns.runtime.tally import Tally
from kdns.runtime.worker import Channel

log = structlog.get_logger("kdns.server")

RESTARTS = REGISTRY.counter(
    "kdns_worker_restarts_total", "Worker processes started again after they exited."
)

#: How long a worker may take to prepare a configuration (a new kubernetes block waits up
#: to its startup_timeout for the first list) and to answer a snapshot request.
PREPARE_TIMEOUT = 120.0
SNAPSHOT_TIMEOUT = 1.0
#: How often the workers' counts are gathered between scrapes (what a killed worker loses).
PULL_INTERVAL = 5.0


class FleetError(BuildError):
    """A worker could not prepare (or start with) a configuration; no worker changed."""


class WorkerGone(Exception):
    """The worker exited before it answered."""


@dataclass(eq=False)
class Proc:
    """One worker process and what the supervisor knows of it."""

    slot: int
    process: asyncio.subprocess.Process
    channel: Channel
    started: float
    replies: dict[tuple[str, int], asyncio.Future[Any]] = field(default_factory=dict)
    #: The worker's kubernetes subscription ids -> the hub's tokens.
    subs: dict[int, int] = field(default_factory=dict)
    not_ready: list[str] = field(default_factory=lambda: ["kdns"])
    serving: bool = False
    reader: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.process.returncode is None


def payload(model: Corefile, digest: str) -> tuple[str, Any]:
    """Return how a configuration travels to the workers: the model itself when it pickles,
    else its digest (the worker loads the Corefile and checks it is the same)."""
    try:
        return ("model", pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return ("disk", digest)


def probe(keys: set[ListenKey]) -> None:
    """Bind each new DNS port once without SO_REUSEPORT: raise OSError if anything holds it
    (the workers would share it with a stranger that set SO_REUSEPORT too)."""
    for transport, host, port in sorted(keys):
        if port == 0:
            continue
        kinds = (
            [socket.SOCK_DGRAM, socket.SOCK_STREAM] if transport == "dns" else [socket.SOCK_STREAM]
        )
        for addr in listen_addresses(host):
            for kind in kinds:
                bound_socket(addr, port, kind).close()


def side_handlers(gen: Generation) -> list[Handler]:
    """Return the handlers the supervisor starts: those that serve HTTP (health's poll)."""
    return [h for h in gen.handlers if isinstance(h, HttpRoutes) and isinstance(h, Startable)]


class Supervisor(Server):
    """Runs N workers on one configuration, their watches and their side endpoints."""

    def __init__(
        self,
        options: RunOptions,
        registry: Mapping[str, PluginSpec],
        workers: int,
        log_format: str = "text",
    ) -> None:
        super().__init__(options, registry)
        self.size = workers
        self.argv = ["--log-format", log_format, "-dns.port", str(options.dns_port)]
        if options.conf is not None:
            self.argv += ["-conf", options.conf]
        self.procs: list[Proc | None] = [None] * workers
        self.hub = Hub()
        self.running: tuple[str, Any] | None = None
        self.http.before = self._before
        self._fleet = asyncio.Lock()
        self._seq = itertools.count(1)
        self.tally = Tally()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- what the side endpoints ask ---------------------------------------------------------
    def not_ready(self) -> list[str]:
        """Return the plugins some worker reports not ready ("kdns" for a worker not serving)."""
        names: set[str] = set()
        for proc in self.procs:
            if proc is None or not proc.alive or not proc.serving:
                names.add("kdns")
            else:
                names.update(proc.not_ready)
        return sorted(names)

    def down(self) -> list[int]:
        """Return the slots whose worker process is not running."""
        return [i for i, p in enumerate(self.procs) if p is None or not p.alive]

    async def _before(self, path: str) -> None:
        if path in ("/ready", "/metrics"):
            await self.pull()

    def _routes(self, gen: Generation) -> dict[tuple[str, int], dict[str, Route]]:
        routes = http_routes_of(gen)
        for paths in routes.values():
            if "/health" in paths:
                paths["/health"] = self._guard(paths["/health"])
        return routes

    def _guard(self, route: Route) -> Route:
        def health(state: ServerState) -> tuple[int, str, bytes]:
            down = self.down()
            if down and not self.stopping:
                text = f"worker {', '.join(map(str, down))} not running"
                return 503, "text/plain; charset=utf-8", text.encode()
            return route(state)

        return health

    # -- applying a configuration ------------------------------------------------------------
    async def apply(self, model: Corefile) -> Generation:
        """Check `model`, start its side plugins, have every worker take it; all or nothing."""
        gen = Generation.build(model, self.registry, config_digest(model))
        old = self.current
        probe(set(gen.muxes) - set(old.muxes if old is not None else ()))
        routes = self._routes(gen)
        await self.http.open_missing(set(routes))
        started: list[Handler] = []
        try:
            for handler in side_handlers(gen):
                if isinstance(handler, Startable):  # always: for the type checker
                    await handler.start()
                started.append(handler)
            async with self._fleet:
                if old is None:
                    await self._spawn_all()
                live = [p for p in self.procs if p is not None and p.alive]
                await self._two_phase(live, payload(model, gen.digest), starting=old is None)
        except BaseException:
            await stop_handlers(started)
            self.discard([])  # closes the side servers opened for this attempt
            if old is None:
                await self._kill_all()
            raise
        self.current = gen
        self.http.swap(routes)
        self.announce(gen)
        if old is not None:
            self.thaw()  # as Server.commit: the retiring generation stays collectable
            await stop_handlers(side_handlers(old))
        self.settle_when_ready(gen)
        return gen

    async def _two_phase(self, procs: list[Proc], config: tuple[str, Any], starting: bool) -> None:
        """Have every worker prepare `config`; then all swap it in, or all drop it."""
        seq = next(self._seq)
        asks = [self._ask(p, "prepared", seq, ("prepare", seq, *config)) for p in procs]
        answers = await asyncio.gather(
            *(asyncio.wait_for(a, PREPARE_TIMEOUT) for a in asks), return_exceptions=True
        )
        errors: list[str] = []
        for proc, answer in zip(procs, answers, strict=True):
            if isinstance(answer, WorkerGone):
                if starting:  # later, a worker that died is started with what runs
                    errors.append(f"worker {proc.slot} exited while starting")
            elif isinstance(answer, TimeoutError):
                errors.append(f"worker {proc.slot} did not prepare within {PREPARE_TIMEOUT:g}s")
            elif isinstance(answer, BaseException):
                errors.append(f"worker {proc.slot}: {answer}")
            elif answer is not None:
                errors.append(str(answer))
        if errors:
            for proc in procs:
                proc.channel.send("abort", seq)
            raise FleetError("; ".join(dict.fromkeys(errors)))
        self.running = config
        commits = [self._ask(p, "committed", seq, ("commit", seq)) for p in procs]
        done = await asyncio.gather(
            *(asyncio.wait_for(c, SNAPSHOT_TIMEOUT * 5) for c in commits), return_exceptions=True
        )
        for proc, ok in zip(procs, done, strict=True):
            proc.serving = proc.serving or ok is True

    def _ask(
        self, proc: Proc, reply: str, seq: int, message: tuple[Any, ...]
    ) -> asyncio.Future[Any]:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if proc.reader is None or proc.reader.done():
            answer.set_exception(WorkerGone())
            return answer
        proc.replies[(reply, seq)] = answer
        proc.channel.send(*message)
        return answer

    # -- the worker processes ----------------------------------------------------------------
    async def _spawn(self, slot: int) -> Proc:
        mine, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "kdns.runtime",
                "serve",
                "--worker-channel",
                str(theirs.fileno()),
                *self.argv,
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        proc = Proc(slot, process, await Channel.open(mine), asyncio.get_running_loop().time())
        proc.channel.send("init", slot)
        proc.reader = asyncio.create_task(self._read(proc))
        self.procs[slot] = proc
        log.info(f"worker {slot} started, pid {process.pid}")
        return proc

    async def _spawn_all(self) -> None:
        for slot in range(self.size):
            await self._spawn(slot)

    async def _kill_all(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.alive:
                proc.process.kill()
        for proc in self.procs:
            if proc is not None:
                await proc.process.wait()
                if proc.reader is not None:
                    await proc.reader

    def _background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, proc: Proc) -> None:
        """Take one worker's messages until it is gone; then forget what it held."""
        while (message := await proc.channel.receive()) is not None:
            try:
                self._act(proc, message)
            except Exception:
                log.exception(f"acting on a message of worker {proc.slot} failed")
        for answer in proc.replies.values():
            if not answer.done():
                answer.set_exception(WorkerGone())
        proc.replies.clear()
        for token in proc.subs.values():
            self._background(self.hub.unsubscribe(token))
        proc.subs.clear()
        self.tally.forget(proc)
        await proc.channel.close()

    def _act(self, proc: Proc, message: tuple[Any, ...]) -> None:
        op = message[0]
        if op == "snapshot":
            self._merge(proc, message[2])
        if op in ("prepared", "committed", "snapshot"):
            answer = proc.replies.pop((op, message[1]), None)
            if answer is not None and not answer.done():
                answer.set_result(message[2])
        elif op == "subscribe":
            self._background(self._subscribe(proc, message[1], message[2]))
        elif op == "unsubscribe":
            token = proc.subs.pop(message[1], None)
            if token is not None:
                self._background(self.hub.unsubscribe(token))

    async def _subscribe(self, proc: Proc, sub: int, config: Any) -> None:
        def outlet(data: bytes) -> None:
            proc.channel.send("k8s", sub, data)

        try:
            token = await self.hub.subscribe(config, outlet)
        except Exception as exc:
            proc.channel.send("subscribed", sub, str(exc) or type(exc).__name__)
            return
        if proc.reader is None or proc.reader.done():  # gone meanwhile
            self._background(self.hub.unsubscribe(token))
            return
        proc.subs[sub] = token
        # The state the hub sent on subscribing is already on the channel, ahead of this.
        proc.channel.send("subscribed", sub, None)

    async def _keep(self, slot: int) -> None:
        """Start the worker of `slot` again whenever it exits, until shutdown."""
        backoff = 0.5
        while True:
            proc = self.procs[slot]
            assert proc is not None
            code = await proc.process.wait()
            if proc.reader is not None:
                await proc.reader
            if self.stopping:
                return
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            log.error(f"worker {slot} (pid {proc.process.pid}) {how}: restarting it")
            RESTARTS.inc()
            if asyncio.get_running_loop().time() - proc.started < 10.0:
                await asyncio.sleep(backoff)  # one that keeps dying is not restarted in a loop
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5
            while not self.stopping:
                async with self._fleet:
                    if self.stopping or self.running is None:
                        return
                    fresh = await self._spawn(slot)
                    try:
                        await self._two_phase([fresh], self.running, starting=True)
                        break
                    except FleetError as exc:
                        log.error(f"worker {slot} could not start: {exc}")
                        if fresh.alive:
                            fresh.process.kill()
                await fresh.process.wait()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    # -- metrics and readiness ---------------------------------------------------------------
    async def pull(self) -> None:
        """Ask every serving worker for its readiness and counts (waits at most a second)."""
        seq = next(self._seq)
        asks = [
            self._ask(p, "snapshot", seq, ("snapshot", seq))
            for p in self.procs
            if p is not None and p.alive and p.serving
        ]
        if asks:
            await asyncio.wait(asks, timeout=SNAPSHOT_TIMEOUT)
        for ask in asks:  # retrieve failures (a worker gone meanwhile) so none is left unseen
            if ask.done() and not ask.cancelled():
                ask.exception()

    async def _pull_forever(self) -> None:
        while True:
            await asyncio.sleep(PULL_INTERVAL)
            await self.pull()

    def _merge(self, proc: Proc, snapshot: dict[str, Any]) -> None:
        """Take a worker's readiness and add what it counted (tally.py)."""
        proc.not_ready = list(snapshot["not_ready"])
        self.tally.add(proc, proc.slot, snapshot["metrics"])

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> Generation:
        """Load the Corefile, start the workers on it, and keep them running."""
        gen = await super().start()
        for slot in range(self.size):
            self._background(self._keep(slot))
        self._background(self._pull_forever())
        return gen

    async def stop(self) -> None:
        """Pass SIGTERM on to the workers, wait for them all to exit, then stop the rest."""
        async with self._lock:
            self._stopping = True
        gen = self.current
        procs = [p for p in self.procs if p is not None and p.alive]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.process.send_signal(signal.SIGTERM)
        pause = lameduck_of(gen)
        waits = [asyncio.create_task(p.process.wait()) for p in procs]
        if waits:
            _, late = await asyncio.wait(waits, timeout=pause + self.options.drain + 10.0)
            for proc in procs:
                if proc.alive:
                    log.warning(f"worker {proc.slot} did not stop in time: killing it")
                    proc.process.kill()
            await asyncio.gather(*late)
        for proc in procs:
            if proc.reader is not None:
                await proc.reader  # the last counts a worker sends are merged
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._kill_all()  # one restarted while this began has not served: no drain
        await self.hub.stop()
        if gen is not None:
            await stop_handlers(side_handlers(gen))
        self.http.close_all()
        self.current = None
