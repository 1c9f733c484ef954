"""One watch, many processes: the API is watched once and its updates are relayed to workers.

With `kdns serve --workers N` only the supervisor process talks to the API server. There a
`Hub` runs one `Controller` (the same factory as in a single process) per distinct kubernetes
configuration, into a `Fanout`: a Sink that keeps the latest objects of every kind and hands
each `replace`/`apply`/`mark_synced` call, pickled once, to every subscriber. In a worker the
kubernetes handler gets a `RelayController` instead of a watch: it subscribes through its
`Relay` and applies what arrives to the handler's index, in the order the watch produced it.
A late subscriber (a reload, a restarted worker) first gets the whole current state.

How messages travel between the processes is the runtime's business (kdns.runtime.workers):
this module only gives it bytes to carry and callbacks to call.
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from kdns.plugins.base import PluginError
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.handler import Controller, ControllerFactory, default_controller
from kdns.plugins.kubernetes.objects import (
    EndpointSlice,
    EventType,
    Kind,
    KubeObject,
    MultiClusterSlice,
    Namespace,
    Pod,
    Service,
    ServiceImport,
    Sink,
)

log = structlog.get_logger("plugin/kubernetes")

#: Receives one relayed Sink call, pickled (see `encode`).
Outlet = Callable[[bytes], None]


def _key(obj: KubeObject) -> tuple[str, str]:
    return (getattr(obj, "namespace", ""), obj.name)


def encode(call: tuple[Any, ...]) -> bytes:
    """Return the bytes that carry one Sink call: ("replace", kind, objects) and the like."""
    return pickle.dumps(call, protocol=pickle.HIGHEST_PROTOCOL)


def play(data: bytes, sink: Sink) -> None:
    """Make on `sink` the Sink call that `data` carries."""
    call = pickle.loads(data)
    if call[0] == "replace":
        sink.replace(call[1], call[2])
    elif call[0] == "apply":
        sink.apply(call[1], call[2], call[3])
    elif call[0] == "synced":
        sink.mark_synced()


class Fanout:
    """A Sink that keeps the current objects of each kind and relays every call to outlets."""

    def __init__(self) -> None:
        self.state: dict[Kind, dict[tuple[str, str], KubeObject]] = {}
        self.synced = False
        self.outlets: dict[int, Outlet] = {}

    def _send(self, call: tuple[Any, ...]) -> None:
        data = encode(call)
        for outlet in list(self.outlets.values()):
            outlet(data)

    def replace(self, kind: Kind, objects: list[KubeObject]) -> None:
        """Keep `objects` as the whole of `kind` and relay the list."""
        self.state[kind] = {_key(o): o for o in objects}
        self._send(("replace", kind, objects))

    def apply(self, kind: Kind, event: EventType, obj: KubeObject) -> None:
        """Keep the change and relay the event."""
        held = self.state.setdefault(kind, {})
        if event == "DELETED":
            held.pop(_key(obj), None)
        else:
            held[_key(obj)] = obj
        self._send(("apply", kind, event, obj))

    def mark_synced(self) -> None:
        """Remember and relay that every kind has been listed once."""
        self.synced = True
        self._send(("synced",))

    def known(self, obj: KubeObject) -> KubeObject:
        """Return the equal object held under obj's key, else `obj` (a re-list keeps one copy)."""
        held = self.state.get(_KINDS[type(obj)], {}).get(_key(obj))
        return held if held is not None and held == obj else obj

    def catch_up(self, outlet: Outlet) -> None:
        """Send `outlet` the whole current state, as the calls that would rebuild it."""
        for kind, objects in self.state.items():
            outlet(encode(("replace", kind, list(objects.values()))))
        if self.synced:
            outlet(encode(("synced",)))


#: The kind each object type is watched as (Fanout.known looks objects up by it).
_KINDS: dict[type, Kind] = {
    Service: "Service",
    EndpointSlice: "EndpointSlice",
    Pod: "Pod",
    Namespace: "Namespace",
    ServiceImport: "ServiceImport",
    MultiClusterSlice: "MultiClusterEndpointSlice",
}


@dataclass
class _Watch:
    controller: Controller
    fanout: Fanout
    tokens: set[int] = field(default_factory=set)


class Hub:
    """Runs one watch per distinct kubernetes configuration for as long as someone listens."""

    def __init__(self, factory: ControllerFactory | None = None) -> None:
        self.factory = factory or default_controller()
        self.watches: dict[KubernetesConfig, _Watch] = {}
        self._owner: dict[int, KubernetesConfig] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def subscribe(self, config: KubernetesConfig, outlet: Outlet) -> int:
        """Start relaying `config`'s watch to `outlet` (starting the watch if it is the first);
        return a token for `unsubscribe`. Raises what the watch's start raises."""
        async with self._lock:
            watch = self.watches.get(config)
            if watch is None:
                if self.factory is None:
                    raise PluginError("kubernetes", "no watch controller is available")
                fanout = Fanout()
                controller = self.factory(config, fanout)
                await controller.start()
                watch = self.watches[config] = _Watch(controller, fanout)
            token = next(self._ids)
            watch.tokens.add(token)
            self._owner[token] = config
            watch.fanout.outlets[token] = outlet
            watch.fanout.catch_up(outlet)
            return token

    async def unsubscribe(self, token: int) -> None:
        """Stop relaying to a subscriber; stop the watch when it was the last one."""
        config = self._owner.pop(token, None)
        watch = None if config is None else self.watches.get(config)
        if config is None or watch is None:
            return
        watch.tokens.discard(token)
        watch.fanout.outlets.pop(token, None)
        if not watch.tokens:
            del self.watches[config]
            await watch.controller.stop()

    async def stop(self) -> None:
        """Stop every watch."""
        watches, self.watches = list(self.watches.values()), {}
        self._owner.clear()
        for watch in watches:
            await watch.controller.stop()


class RelayController:
    """A worker's stand-in for a watch: subscribes to the supervisor's and feeds its Sink."""

    def __init__(self, relay: Relay, config: KubernetesConfig, sink: Sink) -> None:
        self.relay = relay
        self.config = config
        self.sink = sink
        self.sub: int | None = None

    async def start(self) -> None:
        """Subscribe; raise what starting the supervisor's watch raised."""
        self.sub = await self.relay.subscribe(self.config, self.sink)

    async def stop(self) -> None:
        """Unsubscribe (the supervisor stops the watch when nobody is left)."""
        sub, self.sub = self.sub, None
        if sub is not None:
            self.relay.unsubscribe(sub)


class Relay:
    """The worker's end: subscriptions by id, and the Sinks relayed calls are played on.

    `send` carries ("subscribe", id, config) and ("unsubscribe", id) to the supervisor, which
    answers with `acknowledge` and then calls `deliver` with each relayed call.
    """

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        self.send = send
        self.sinks: dict[int, Sink] = {}
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._ids = itertools.count(1)

    def factory(self, config: KubernetesConfig, sink: Sink) -> RelayController:
        """Return a controller for the kubernetes handler (a ControllerFactory)."""
        return RelayController(self, config, sink)

    async def subscribe(self, config: KubernetesConfig, sink: Sink) -> int:
        """Ask for `config`'s watch to be relayed into `sink`; wait for the answer."""
        sub = next(self._ids)
        self.sinks[sub] = sink
        done = self._waiting[sub] = asyncio.get_running_loop().create_future()
        self.send(("subscribe", sub, config))
        try:
            await done
        except BaseException:
            self.sinks.pop(sub, None)
            raise
        finally:
            self._waiting.pop(sub, None)
        return sub

    def unsubscribe(self, sub: int) -> None:
        """Stop playing relayed calls on the subscription's Sink."""
        if self.sinks.pop(sub, None) is not None:
            self.send(("unsubscribe", sub))

    def acknowledge(self, sub: int, error: str | None) -> None:
        """Take the supervisor's answer to a subscription: None, or why its watch failed."""
        done = self._waiting.get(sub)
        if done is None or done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(PluginError("kubernetes", error.removeprefix("plugin/kubernetes: ")))

    def deliver(self, sub: int, data: bytes) -> None:
        """Play one relayed call on the subscription's Sink (dropped once unsubscribed)."""
        sink = self.sinks.get(sub)
        if sink is None:
            return
        try:
            play(data, sink)
        except Exception:
            log.exception("applying a relayed kubernetes update failed")

    def fail_all(self, error: str) -> None:
        """Fail every subscription still waiting (the supervisor is gone)."""
        for sub in list(self._waiting):
            self.acknowledge(sub, error)
