"""The server: owns the listeners and the running generation; reloads and shuts down."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from kdns.corefile import Corefile, CorefileError, PluginSpec, load, loads
from kdns.plugins.base import HttpRoutes, Lameduck, PluginError, ReloadPolicy, Route
from kdns.plugins.metrics import REGISTRY
from kdns.runtime import heap
from kdns.runtime.chain import BuildError
from kdns.runtime.dispatch import ZoneMux
from kdns.runtime.generation import Generation, ListenKey, config_digest
from kdns.runtime.http import HttpPool
from kdns.runtime.listeners import ListenerPool

log = structlog.get_logger("kdns.server")
reload_log = structlog.get_logger("plugin/reload")

RELOAD_FAILED = REGISTRY.counter(
    "coredns_reload_failed_total", "Counter of the number of failed reload attempts."
)
RELOAD_VERSION = REGISTRY.gauge(
    "coredns_reload_version_info",
    "A metric with a constant '1' value labeled by hash, and value which type of hash generated.",
    ("hash", "value"),
)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How `kdns serve` was asked to run."""

    conf: str | None = None
    dns_port: int = 53
    quiet: bool = False
    pidfile: str | None = None
    #: Seconds a retiring generation gets to finish in-flight queries.
    drain: float = 5.0
    #: Collect and freeze the heap once a configuration is ready (heap.py): for a process
    #: that is only the server (`kdns serve` and its workers), not one that embeds it.
    freeze: bool = False


#: First wait (seconds) before a generation's heap is frozen, doubled while it is not ready.
SETTLE_POLL = 0.05


class StartError(Exception):
    """The first configuration could not be loaded or started."""


def start_error(exc: BaseException) -> str:
    """Return the message `kdns serve` prints when a configuration cannot start."""
    if isinstance(exc, CorefileError):
        return "\n".join(d.headline() for d in exc.errors)
    if isinstance(exc, OSError):
        return f"listen failed: {exc}"
    return str(exc) or type(exc).__name__


def lameduck_of(gen: Generation | None) -> float:
    """Return the longest lameduck the handlers of `gen` ask for (0 without one)."""
    handlers = gen.handlers if gen is not None else []
    return max((h.lameduck() for h in handlers if isinstance(h, Lameduck)), default=0.0)


class Server:
    """Runs one configuration at a time and swaps in the next on reload."""

    def __init__(self, options: RunOptions, registry: Mapping[str, PluginSpec]) -> None:
        self.options = options
        self.registry = registry
        self.current: Generation | None = None
        self.pool = ListenerPool(self.lookup, self.tls_context)
        self.http = HttpPool(self)
        self._stopping = False
        self._lock = asyncio.Lock()
        self._shutdown = asyncio.Event()
        self._reload_wanted = asyncio.Event()
        self.changed = asyncio.Event()
        self._settling: asyncio.Task[None] | None = None

    # -- what listeners and side endpoints ask ---------------------------------------------
    def lookup(self, key: ListenKey) -> ZoneMux | None:
        """Return the running generation's mux for a listener."""
        gen = self.current
        return None if gen is None else gen.muxes.get(key)

    def tls_context(self, key: ListenKey) -> ssl.SSLContext | None:
        """Return the running generation's TLS context for a tls:// or https:// listener."""
        gen = self.current
        holder = None if gen is None else gen.tls.get(key)
        return None if holder is None else holder.server_context(key[0])

    @property
    def stopping(self) -> bool:
        """Tell whether shutdown has begun."""
        return self._stopping

    def not_ready(self) -> list[str]:
        """Return the plugins that are not ready (all of kdns before the first start)."""
        gen = self.current
        return ["kdns"] if gen is None else gen.not_ready()

    def reload_policy(self) -> ReloadPolicy | None:
        """Return the running configuration's reload settings, if it enables reload."""
        gen = self.current
        if gen is None:
            return None
        for block in gen.model.servers:
            for entry in block.plugins:
                if isinstance(entry.config, ReloadPolicy):
                    return entry.config
        return None

    # -- loading and swapping --------------------------------------------------------------
    def load_model(self) -> Corefile:
        """Load the Corefile (./Corefile by default, the built-in default if there is none)."""
        path = self.options.conf
        if path is None and os.path.exists("Corefile"):
            path = "Corefile"
        if path is None:  # no Corefile at all: CoreDNS's built-in default, quietly
            default = loads("", self.registry, default_port=self.options.dns_port)
            return dataclasses.replace(default, warnings=())
        return load(path, self.registry, default_port=self.options.dns_port)

    async def apply(self, model: Corefile) -> Generation:
        """Build, open, start and swap in a generation for `model`; the old one drains.

        Anything that fails before the swap undoes what it opened and leaves the running
        generation untouched.
        """
        gen, _ = await self.prepare(model)
        return await self.commit(gen)

    async def prepare(self, model: Corefile) -> tuple[Generation, list[ListenKey]]:
        """Build, open and start a generation for `model` beside the running one (no swap);
        return it and the listener keys opened for it. On failure nothing stays open."""
        gen = Generation.build(model, self.registry, config_digest(model))
        if self.current is not None:
            gen.adopt(self.current)
        opened = await self.pool.open_missing(set(gen.muxes))
        try:
            await self.http.open_missing(set(http_routes_of(gen)))
            await gen.start()
        except BaseException:
            self.discard(opened)
            raise
        return gen, opened

    def discard(self, opened: list[ListenKey]) -> None:
        """Close the listeners and side servers opened for a generation that is not swapped in."""
        for key in opened:
            self.pool.listeners.pop(key).close()
        self.http.swap({**self.http.routes})  # closes servers opened for this attempt

    async def commit(self, gen: Generation) -> Generation:
        """Swap in a prepared generation; the old one drains and stops."""
        old, self.current = self.current, gen
        self.http.swap(http_routes_of(gen))
        self.pool.close_unused(set(gen.muxes))
        self.announce(gen)
        if old is not None:
            self.thaw()  # what the retiring generation leaves behind must stay collectable
            await old.stop(self.options.drain)
        self.settle_when_ready(gen)
        return gen

    def settle_when_ready(self, gen: Generation) -> None:
        """Collect and freeze the heap once `gen` is ready (heap.py), unless it is replaced
        or the server stops first. Only with `RunOptions.freeze`."""
        if not self.options.freeze:
            return
        if self._settling is not None:
            self._settling.cancel()
        self._settling = asyncio.ensure_future(self._settle(gen))

    async def _settle(self, gen: Generation) -> None:
        pause = SETTLE_POLL  # at least once: the reload that retired a generation returns
        while True:
            await asyncio.sleep(pause)
            if self.current is not gen or self._stopping:
                return
            if not gen.not_ready():
                break
            pause = min(pause * 2, 1.0)
        heap.settle()

    def thaw(self) -> None:
        """Hand the frozen heap back to the collector (a generation retires or the server stops)."""
        if self.options.freeze:
            heap.thaw()

    def announce(self, gen: Generation) -> None:
        """Publish that `gen` now runs: its digest in the reload metric, and `changed`."""
        RELOAD_VERSION.values.clear()
        RELOAD_VERSION.set(("sha512", gen.digest), 1)  # hash: the kind, value: the digest
        self.changed.set()
        self.changed = asyncio.Event()

    async def reload(self) -> bool:
        """Load the Corefile again and swap it in if it changed; return True if it did."""
        async with self._lock:
            if self._stopping:
                return False
            try:
                model = self.load_model()
            except CorefileError as exc:
                RELOAD_FAILED.inc()
                for d in exc.errors:
                    reload_log.error(f"Corefile changed but reload failed: {d.headline()}")
                return False
            current = self.current
            if model.default and current is not None and not current.model.default:
                # An emptied or half-written Corefile (truncated to nothing): swapping in the
                # built-in default would move every zone to whoami on :53.
                RELOAD_FAILED.inc()
                reload_log.error(
                    f"Corefile changed but reload failed: {model.path}:1:1: error: "
                    "no server block; keeping the running configuration"
                )
                return False
            if current is not None and config_digest(model) == current.digest:
                return False
            log.info("Reloading")
            try:
                gen = await self.apply(model)
            except Exception as exc:
                RELOAD_FAILED.inc()
                reload_log.error(f"Corefile changed but reload failed: {exc}")
                return False
            reload_log.info(f"Running configuration SHA512 = {gen.digest}")
            log.info("Reloading complete")
            return True

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> Generation:
        """Load and start the first configuration; raise StartError with the reasons."""
        try:
            model = self.load_model()
        except CorefileError as exc:
            raise StartError(start_error(exc)) from None
        try:
            gen = await self.apply(model)
        except (BuildError, PluginError, OSError) as exc:
            raise StartError(start_error(exc)) from None
        for warning in model.warnings:
            if "cannot serve it yet" not in warning.message:
                log.warning(warning.headline())
        return gen

    def request_reload(self) -> None:
        """Ask for a reload (watchers, the poll and SIGHUP/SIGUSR1 call this); bursts coalesce."""
        self._reload_wanted.set()

    async def reloader(self) -> None:
        """Perform requested reloads one at a time, for as long as the server runs."""
        while True:
            await self._reload_wanted.wait()
            self._reload_wanted.clear()
            await self.reload()

    def request_shutdown(self) -> None:
        """Ask the server to shut down gracefully (signal handlers call this)."""
        self._shutdown.set()

    async def wait_for_shutdown(self) -> None:
        """Return when shutdown has been requested."""
        await self._shutdown.wait()

    async def stop(self) -> None:
        """Lameduck (ready says so, answers continue), stop accepting, drain, stop plugins."""
        async with self._lock:
            self._stopping = True
        if self._settling is not None:
            self._settling.cancel()
        self.thaw()  # what stops here is garbage like any retired generation
        gen = self.current
        pause = lameduck_of(gen)
        if pause > 0:
            log.info(f"Going into lameduck mode for {pause:g}s")
            await asyncio.sleep(pause)
        self.pool.accepting = False
        self.pool.close_all()
        if gen is not None:
            await gen.stop(self.options.drain)
        self.http.close_all()
        self.current = None


def http_routes_of(gen: Generation) -> dict[tuple[str, int], dict[str, Route]]:
    """Merge the HTTP routes every side plugin of a generation asks for, by address."""
    routes: dict[tuple[str, int], dict[str, Route]] = {}
    for handler in gen.handlers:
        if isinstance(handler, HttpRoutes):
            routes.setdefault(handler.http_address(), {}).update(handler.http_routes())
    return routes
