"""The watch side of the kubernetes plugin: API objects in, Sink calls out, on the event loop.

One `Watcher` thread per kind lists and watches (Services, Namespaces, EndpointSlices unless
`noendpoints`, Pods for `pods verified`, ServiceImports and their EndpointSlices for
`multicluster`). Their results queue up in order and are handed to the
Sink on the event loop thread, so the index is only ever touched from the loop. The Sink keeps the
last data through any API outage: nothing here ever clears it on an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import structlog

from kdns.plugins.kubernetes.config import KubernetesConfig, watched_kinds
from kdns.plugins.kubernetes.connect import Connection, connect
from kdns.plugins.kubernetes.convert import MCS_SERVICE_NAME_LABEL
from kdns.plugins.kubernetes.objects import (
    EndpointSlice,
    EventType,
    Kind,
    KubeObject,
    Service,
    Sink,
)
from kdns.plugins.kubernetes.watcher import POD_FIELD_SELECTOR, Backoff, Watcher
from kdns.plugins.metrics import REGISTRY

log = structlog.get_logger("plugin/kubernetes")

PROGRAMMING_DURATION = REGISTRY.histogram(
    "coredns_kubernetes_dns_programming_duration_seconds",
    "Histogram of the time (in seconds) it took to program a dns instance.",
    ("service_kind",),
    tuple(0.001 * 2**k for k in range(20)),
)
WATCH_UP = REGISTRY.gauge(
    "kdns_kubernetes_watch_up",
    "Whether the watch of a kind is established (1) or failing and retrying (0).",
    ("kind",),
)
RELISTS = REGISTRY.counter(
    "kdns_kubernetes_relists_total",
    "Full re-lists of a kind after the first list, by reason (gone, error, resync).",
    ("kind", "reason"),
)


@runtime_checkable
class Keeps(Protocol):
    """A Sink that hands back the equal object it holds (Index.known), from any thread."""

    def known(self, obj: KubeObject) -> KubeObject:
        """Return the held object equal to `obj`, else `obj`."""
        ...


#: Called on the loop after every complete list: kind, reason, number of objects.
OnList = Callable[[Kind, str, int], None]
#: Default period of the full re-list that repairs silently lost events (coredns#3587).
RESYNC_PERIOD = 900.0


def label_selector(config: KubernetesConfig, kind: Kind) -> str | None:
    """Return the label selector the watch of `kind` lists with (None: everything).

    `labels` narrows Services, EndpointSlices and Pods; `namespace_labels` the Namespaces; the
    MCS slices are those with the `multicluster.kubernetes.io/service-name` label (and
    `labels`, if set). ServiceImports are all watched.
    """
    labels = config.labels.query() if config.labels else None
    if kind == "Namespace":
        return config.namespace_labels.query() if config.namespace_labels else None
    if kind == "ServiceImport":
        return None
    if kind == "MultiClusterEndpointSlice":
        return f"{labels},{MCS_SERVICE_NAME_LABEL}" if labels else MCS_SERVICE_NAME_LABEL
    return labels


def _seconds_since(stamp: str, now: float) -> float | None:
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return max(0.0, now - when.timestamp())


class Controller:
    """Lists and watches the cluster for one kubernetes plugin and feeds its Sink.

    `clock` is the wall clock the programming-duration metric compares the EndpointSlice
    trigger time with. `resync` is the period of the full re-list of every kind (0: never).
    """

    def __init__(
        self,
        config: KubernetesConfig,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.time,
        on_list: OnList | None = None,
        resync: float = RESYNC_PERIOD,
        backoff: Backoff | None = None,
        page_size: int = 500,
        connection: Connection | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.clock = clock
        self.on_list = on_list
        self.resync_period = resync
        self.backoff = backoff
        self.page_size = page_size
        self.connection = connection
        self.kinds = watched_kinds(config)
        self.watchers: dict[Kind, Watcher] = {}
        self._listed: set[Kind] = set()
        self._synced = asyncio.Event()
        self._headless: set[tuple[str, str]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._queue_lock = threading.Lock()
        self._drain_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    @property
    def synced(self) -> bool:
        """Tell whether every watched kind has been listed once."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the first sync; tell whether it happened."""
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """Connect (reading kubeconfig or service account files) and start the watches."""
        self._loop = asyncio.get_running_loop()
        if self.connection is None:
            self.connection = connect(self.config)
        self.connection.report = lambda fn: self._post(fn)
        # A re-list then keeps one copy of what did not change (a 410 at scale doubled memory).
        reuse = self.sink.known if isinstance(self.sink, Keeps) else None
        for kind in self.kinds:
            self.watchers[kind] = Watcher(
                kind,
                self.connection,
                self,
                label_selector=label_selector(self.config, kind),
                field_selector=POD_FIELD_SELECTOR if kind == "Pod" else None,
                page_size=self.page_size,
                backoff=self.backoff,
                reuse=reuse,
            )
        log.info(f"watching {', '.join(self.kinds)} through {self.connection.source}")
        for watcher in self.watchers.values():
            watcher.start()
        self._schedule_resync()

    async def stop(self) -> None:
        """Stop the watches and wait (briefly) for their threads; the Sink keeps its data."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        for watcher in self.watchers.values():
            watcher.stop()
        for watcher in self.watchers.values():
            if not await asyncio.to_thread(watcher.join, 5.0):
                log.warning(f"the {watcher.kind} watch did not stop within 5s")
        if self.connection is not None:
            self.connection.close()

    def resync(self) -> None:
        """Re-list every kind now (the periodic resync calls this)."""
        for watcher in self.watchers.values():
            watcher.resync()

    def _schedule_resync(self) -> None:
        if self.resync_period > 0 and not self._stopped and self._loop is not None:
            self._timer = self._loop.call_later(self.resync_period, self._periodic)

    def _periodic(self) -> None:
        self.resync()
        self._schedule_resync()

    # Outbox: called from the watcher threads; everything is queued in order for the loop.

    def listed(self, kind: Kind, objects: list[KubeObject], reason: str) -> None:
        """Queue a complete list of `kind` for the Sink."""
        self._post(self._on_listed, kind, objects, reason)

    def event(self, kind: Kind, event: EventType, obj: KubeObject, trigger: str) -> None:
        """Queue one watch event for the Sink."""
        self._post(self._on_event, kind, event, obj, trigger)

    def up(self, kind: Kind, up: bool) -> None:
        """Queue a change of the watch state gauge."""
        self._post(WATCH_UP.set, (kind,), 1.0 if up else 0.0)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with self._queue_lock:
            self._queue.append((fn, args))
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        with contextlib.suppress(RuntimeError):  # a closed loop: the process is going away
            loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._queue_lock:
            items = list(self._queue)
            self._queue.clear()
            self._drain_scheduled = False
        for fn, args in items:
            if self._stopped and fn != WATCH_UP.set:
                continue
            try:
                fn(*args)
            except Exception:
                log.exception(f"applying a kubernetes update failed: {fn.__name__}")

    # On the loop thread.

    def _on_listed(self, kind: Kind, objects: list[KubeObject], reason: str) -> None:
        self.sink.replace(kind, objects)
        if kind == "Service":
            self._headless = {
                (o.namespace, o.name)
                for o in objects
                if isinstance(o, Service) and o.kind == "Headless"
            }
        if reason != "initial":
            RELISTS.inc((kind, reason))
            log.info(f"re-listed {len(objects)} {kind} objects ({reason})")
        self._listed.add(kind)
        if not self.synced and self._listed.issuperset(self.kinds):
            self.sink.mark_synced()
            self._synced.set()
        if self.on_list is not None:
            self.on_list(kind, reason, len(objects))

    def _on_event(self, kind: Kind, event: EventType, obj: KubeObject, trigger: str) -> None:
        self.sink.apply(kind, event, obj)
        if isinstance(obj, Service):
            key = (obj.namespace, obj.name)
            if event != "DELETED" and obj.kind == "Headless":
                self._headless.add(key)
            else:
                self._headless.discard(key)
        elif (
            isinstance(obj, EndpointSlice)
            and trigger
            and event != "DELETED"
            and (obj.namespace, obj.service) in self._headless
        ):
            # As CoreDNS: only slices of a known headless service, labelled with selector.
            seconds = _seconds_since(trigger, self.clock())
            if seconds is not None:
                PROGRAMMING_DURATION.observe(("headless_with_selector",), seconds)
