"""A Generation: one loaded Corefile made runnable (chains and zone muxes), started and stopped
as a unit, so a reload can build the next one beside it and swap."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from kdns.corefile import Corefile, PluginSpec, ServerBlock
from kdns.corefile.addresses import CERTIFICATE_TRANSPORTS, SERVED_TRANSPORTS
from kdns.plugins.base import (
    Adoptable,
    FastObserver,
    Handler,
    NeedsResolver,
    Readiness,
    Startable,
    Stoppable,
    TlsServer,
)
from kdns.plugins.metrics import REGISTRY
from kdns.runtime.chain import BuildError, build_chain
from kdns.runtime.dispatch import Route, ZoneMux
from kdns.runtime.interfaces import expand
from kdns.runtime.views import fence, gated

log = structlog.get_logger("kdns.server")

#: (transport, host, port); host "" means every address.
ListenKey = tuple[str, str, int]


def listen_label(key: ListenKey) -> str:
    """Return the listener as CoreDNS labels it in metrics: `dns://:53`, `dns://[::1]:53`."""
    transport, host, port = key
    shown = f"[{host}]" if ":" in host else host
    return f"{transport}://{shown}:{port}"


@dataclass(slots=True)
class Generation:
    """The chains and zone muxes of one configuration, and the handlers to start and stop."""

    model: Corefile
    muxes: dict[ListenKey, ZoneMux]
    handlers: list[Handler] = field(default_factory=list)
    digest: str = ""
    started: bool = False
    #: The certificate holder of each tls:// and https:// listener (its first block's).
    tls: dict[ListenKey, TlsServer] = field(default_factory=dict)

    @classmethod
    def build(
        cls, model: Corefile, registry: Mapping[str, PluginSpec], digest: str = ""
    ) -> Generation:
        """Build every block's chain and every listener's mux; raise BuildError if unservable."""
        muxes: dict[ListenKey, ZoneMux] = {}
        handlers: list[Handler] = []
        tls: dict[ListenKey, TlsServer] = {}
        for block in model.servers:
            keys = []
            try:
                hosts = expand(block.listen_hosts(), block.excluded_hosts())
            except OSError as exc:
                raise BuildError(f"{block.pos}: plugin/bind: {exc}") from None
            for addr in block.addresses:
                if addr.transport not in SERVED_TRANSPORTS:
                    raise BuildError(
                        f"{addr.key.pos}: {addr.transport}:// is not supported by kdns "
                        "(it serves dns://, tls:// and https://)"
                    )
                for host in hosts:
                    keys.append((addr, (addr.transport, host, addr.port)))
            servers = tuple(dict.fromkeys(listen_label(k) for _, k in keys))
            chain, block_handlers = build_chain(block, registry, servers)
            handlers.extend(block_handlers)
            secure = _certificate(block, block_handlers)
            resolvers = [h for h in block_handlers if isinstance(h, NeedsResolver)]
            for addr, key in keys:
                if secure is not None and addr.transport in CERTIFICATE_TRANSPORTS:
                    tls.setdefault(key, secure)
                mux = muxes.get(key)
                if mux is None:
                    mux = muxes[key] = ZoneMux(listen_label(key))
                mux.add(gated(Route.of(addr.zone, chain, block), block_handlers))
                if any(getattr(h, "any_class", False) for h in block_handlers):
                    mux.any_class = True
                counters = [h for h in block_handlers if isinstance(h, FastObserver)]
                mux.observers = tuple(dict.fromkeys([*mux.observers, *counters]))
                for handler in resolvers:
                    if handler.resolve is None:  # the block's first listener resolves for it
                        handler.resolve = mux.resolve
        for mux in muxes.values():
            fence(mux)
        return cls(model, muxes, handlers, digest, tls=tls)

    def adopt(self, old: Generation) -> None:
        """Let handlers take over the running state of their equals in `old` (see Adoptable)."""
        taken: set[int] = set()
        for handler in self.handlers:
            if not isinstance(handler, Adoptable):
                continue
            for previous in old.handlers:
                fresh = previous.name == handler.name and id(previous) not in taken
                if fresh and handler.adopt(previous):
                    taken.add(id(previous))
                    break

    async def start(self) -> None:
        """Start the handlers that need it, in chain order; on failure stop those started."""
        done: list[Handler] = []
        try:
            for handler in self.handlers:
                if isinstance(handler, Startable):
                    await handler.start()
                done.append(handler)
        except BaseException:
            await stop_handlers(done)
            raise
        self.started = True
        for mux in self.muxes.values():
            REGISTRY.flushers.append(mux.flush)

    async def stop(self, drain: float = 5.0) -> None:
        """Let in-flight queries finish (up to `drain` seconds), then stop the handlers."""
        deadline = asyncio.get_running_loop().time() + drain
        while any(m.in_flight for m in self.muxes.values()):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        for mux in self.muxes.values():
            mux.flush()
            if mux.flush in REGISTRY.flushers:
                REGISTRY.flushers.remove(mux.flush)
        await stop_handlers(self.handlers)
        self.started = False

    def not_ready(self) -> list[str]:
        """Return the names of plugins that report they are not ready, sorted."""
        return sorted({h.name for h in self.handlers if isinstance(h, Readiness) and not h.ready()})


def _certificate(block: ServerBlock, handlers: list[Handler]) -> TlsServer | None:
    """Return the block's certificate holder; raise BuildError if an encrypted key lacks one."""
    holder = next((h for h in handlers if isinstance(h, TlsServer)), None)
    for addr in block.addresses:
        if addr.transport in CERTIFICATE_TRANSPORTS and holder is None:
            raise BuildError(
                f"{addr.key.pos}: {addr.transport}:// needs a server certificate: add "
                "'tls CERT KEY' to this server block"
            )
    return holder


async def stop_handlers(handlers: list[Handler]) -> None:
    """Stop the handlers that need it, the last started first."""
    for handler in reversed(handlers):
        if isinstance(handler, Stoppable):
            try:
                await handler.stop()
            except Exception:
                log.exception("error stopping plugin", plugin=handler.name)


def config_digest(model: Corefile) -> str:
    """Return the SHA-512 of the loaded configuration (what reload compares, as CoreDNS does)."""
    blocks = [
        {
            "keys": [str(a) for a in b.addresses],
            "plugins": [[e.name, repr(e.config)] for e in b.plugins],
        }
        for b in model.servers
    ]
    return hashlib.sha512(json.dumps(blocks, sort_keys=True).encode()).hexdigest()
