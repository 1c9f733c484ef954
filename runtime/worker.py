"""A worker of `kdns serve --workers N`: a Server on shared ports, steered by its supervisor.

The supervisor (workers.py) starts each worker as `kdns serve --worker-channel FD` with one
end of a socket pair. Over it the worker takes two-phase reloads ("prepare" builds, opens and
starts the next generation beside the running one; "commit" swaps it in; "abort" drops it),
kubernetes updates relayed from the supervisor's single watch, and requests for a snapshot of
its readiness and metrics. The worker binds its DNS listeners with SO_REUSEPORT and serves no
HTTP: health, ready and metrics are the supervisor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pickle
import signal
import socket
import struct
from collections.abc import Mapping
from typing import Any

import structlog

from kdns.corefile import Corefile, PluginSpec
from kdns.plugins import default_registry
from kdns.plugins.base import BuildContext, Handler, HttpRoutes
from kdns.plugins.kubernetes.relay import Relay
from kdns.plugins.metrics import REGISTRY
from kdns.runtime.chain import BuildError
from kdns.runtime.generation import Generation, ListenKey, config_digest
from kdns.runtime.http import HttpPool
from kdns.runtime.server import RunOptions, Server, start_error

log = structlog.get_logger("kdns.server")

Message = tuple[Any, ...]
_HEAD = struct.Struct("!I")


class Channel:
    """Pickled messages, length-prefixed, over one end of the supervisor's socket pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, sock: socket.socket) -> Channel:
        """Wrap a connected stream socket."""
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    def send(self, *message: Any) -> None:
        """Queue one message (never blocks; dropped once the other end is gone)."""
        if self.writer.is_closing():
            return
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(_HEAD.pack(len(data)) + data)

    async def receive(self) -> Message | None:
        """Return the next message, or None when the other end has closed."""
        try:
            head = await self.reader.readexactly(_HEAD.size)
            data = await self.reader.readexactly(_HEAD.unpack(head)[0])
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        message: Message = pickle.loads(data)
        return message

    async def close(self) -> None:
        """Flush what is queued and close."""
        with contextlib.suppress(Exception):
            await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class _NoHttp(HttpPool):
    """A worker binds no side HTTP listener: its supervisor serves health, ready, metrics."""

    async def open_missing(self, addresses: set[tuple[str, int]]) -> list[tuple[str, int]]:
        """Open nothing."""
        return []

    def swap(self, routes: dict[tuple[str, int], dict[str, Any]]) -> None:
        """Remember the routes; there is nothing to close."""
        self.routes = routes


async def _nothing() -> None:
    """The start and stop of a side plugin in a worker: the supervisor runs it."""


def worker_registry(base: Mapping[str, PluginSpec], relay: Relay) -> dict[str, PluginSpec]:
    """Return `base` with the worker's changes: kubernetes watches through the relay, and
    the side plugins (health, ready, metrics endpoints) built but not started."""
    specs = dict(base)
    for name, spec in base.items():
        build = spec.build
        if build is None:
            continue

        def wrapped(
            configs: tuple[Any, ...],
            nxt: Handler | None,
            ctx: BuildContext,
            build: Any = build,
        ) -> Handler:
            handler: Handler = build(configs, nxt, ctx)
            if hasattr(handler, "make_controller"):
                handler.make_controller = relay.factory
            if isinstance(handler, HttpRoutes):
                for method in ("start", "stop"):
                    if hasattr(handler, method):
                        setattr(handler, method, _nothing)
            return handler

        specs[name] = dataclasses.replace(spec, build=wrapped)
    return specs


class WorkerServer(Server):
    """A Server that binds with SO_REUSEPORT, serves no HTTP and reloads in two phases."""

    def __init__(self, options: RunOptions, registry: Mapping[str, PluginSpec]) -> None:
        super().__init__(options, registry)
        self.pool.reuse_port = True
        self.http = _NoHttp(self)
        self.staged: tuple[int, Generation, list[ListenKey]] | None = None
        #: The last reload the supervisor aborted.
        self.dropped = -1

    async def prepare(self, model: Corefile) -> tuple[Generation, list[ListenKey]]:
        """Prepare as a Server does; but a worker's first configuration is started before its
        listeners join the shared ports, so a restarted worker takes no query it cannot answer
        yet (the others answer meanwhile)."""
        if self.current is not None:
            return await super().prepare(model)
        gen = Generation.build(model, self.registry, config_digest(model))
        await gen.start()
        try:
            opened = await self.pool.open_missing(set(gen.muxes))
        except BaseException:
            await gen.stop(0.0)
            raise
        return gen, opened

    def model_of(self, how: str, data: Any) -> Corefile:
        """Return the model the supervisor sent, or load the Corefile and check its digest."""
        if how == "model":
            model: Corefile = pickle.loads(data)
            return model
        model = self.load_model()
        if config_digest(model) != data:
            raise BuildError("the Corefile on disk changed while the workers were loading it")
        return model

    async def stage(self, seq: int, how: str, data: Any) -> str | None:
        """Prepare the next generation; return None, or why it could not be prepared."""
        await self.unstage()
        try:
            gen, opened = await self.prepare(self.model_of(how, data))
        except Exception as exc:
            return start_error(exc)
        self.staged = (seq, gen, opened)
        if seq == self.dropped:  # the supervisor gave up waiting for this one
            await self.unstage()
        return None

    async def unstage(self, seq: int | None = None) -> None:
        """Drop the prepared generation (the one of `seq`, if given, even while preparing)."""
        staged = self.staged
        if seq is not None:
            self.dropped = seq
        if staged is None or (seq is not None and staged[0] != seq):
            return
        self.staged = None
        self.discard(staged[2])
        await staged[1].stop(0.0)

    async def swap_in(self, seq: int) -> bool:
        """Swap in the generation prepared for `seq`; False if there is none."""
        staged = self.staged
        if staged is None or staged[0] != seq:
            return False
        self.staged = None
        await self.commit(staged[1])
        return True

    def snapshot(self) -> dict[str, Any]:
        """Return what the supervisor merges: readiness, and every metric's values."""
        REGISTRY.flush()
        families = [
            (m.name, m.help, m.labels, m.kind, m.buckets, dict(m.values), dict(m.counts), m.sums)
            for m in REGISTRY
            if m.values or m.counts
        ]
        ready = self.not_ready() if self.current is not None else ["kdns"]
        return {"not_ready": ready, "metrics": families}


class Worker:
    """The worker process: serves what the supervisor says until SIGTERM or the channel ends."""

    def __init__(self, options: RunOptions, channel: Channel) -> None:
        self.channel = channel
        self.relay = Relay(lambda message: channel.send(*message))
        self.server = WorkerServer(options, worker_registry(default_registry(), self.relay))
        self.tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _prepare(self, seq: int, how: str, data: Any) -> None:
        self.channel.send("prepared", seq, await self.server.stage(seq, how, data))

    async def _commit(self, seq: int) -> None:
        # Answer first: the old generation's drain should not hold up the other workers.
        ok = self.server.staged is not None and self.server.staged[0] == seq
        self.channel.send("committed", seq, ok)
        if ok:
            await self.server.swap_in(seq)

    async def listen(self) -> None:
        """Act on the supervisor's messages in order; shut down when the channel closes."""
        while (message := await self.channel.receive()) is not None:
            try:
                self._act(message)
            except Exception:
                log.exception("acting on a message of the supervisor failed", op=message[0])
        self.relay.fail_all("the supervisor is gone")
        self.server.request_shutdown()

    def _act(self, message: Message) -> None:
        op = message[0]
        if op == "k8s":
            self.relay.deliver(message[1], message[2])
        elif op == "subscribed":
            self.relay.acknowledge(message[1], message[2])
        elif op == "prepare":
            self._spawn(self._prepare(message[1], message[2], message[3]))
        elif op == "commit":
            self._spawn(self._commit(message[1]))
        elif op == "abort":
            self._spawn(self.server.unstage(message[1]))
        elif op == "snapshot":
            self.channel.send("snapshot", message[1], self.server.snapshot())
        elif op == "init":
            structlog.contextvars.bind_contextvars(worker=message[1])

    async def run(self) -> int:
        """Serve until asked to stop, then lameduck and drain as a single server does."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.server.request_shutdown)
        listening = asyncio.create_task(self.listen())
        try:
            await self.server.wait_for_shutdown()
            await self.server.unstage()
            await self.server.stop()
            self.channel.send("snapshot", 0, self.server.snapshot())  # the last counts
            await self.channel.close()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        return 0


async def _main(options: RunOptions, fd: int) -> int:
    channel = await Channel.open(socket.socket(fileno=fd))
    return await Worker(options, channel).run()


def run_worker(options: RunOptions, fd: int) -> int:
    """Run a worker on the inherited channel `fd` (on uvloop when it is installed)."""
    # Terminal signals go to the whole process group: only the supervisor acts on them.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_main(options, fd))
    return uvloop.run(_main(options, fd))
