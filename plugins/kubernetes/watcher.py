"""One kind's list-and-watch loop, run in its own thread (the official client is synchronous).

The loop lists (paginated, each item converted to a compact object at once), hands the whole set
over, then watches from the list's resourceVersion with bookmarks, tracking the newest version
seen. A stream that ends or breaks is reopened from that version after a capped, jittered
backoff; 410 Gone, other API errors and resync requests re-list. Nothing here touches the index:
every result goes through `Outbox`, which the controller runs on the event loop thread.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import kubernetes.client
import structlog
from kubernetes.client.exceptions import ApiException

from kdns.plugins.kubernetes import convert
from kdns.plugins.kubernetes.connect import Connection, Stopped
from kdns.plugins.kubernetes.objects import EventType, Kind, KubeObject

log = structlog.get_logger("plugin/kubernetes")

#: The pod phases `pods verified` does not watch (CoreDNS's field selector).
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"
#: Seconds to wait for a connection, and for a list's answer.
CONNECT_TIMEOUT, LIST_TIMEOUT = 10.0, 60.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff between failed attempts: `initial` doubling up to `cap`, jittered."""

    initial: float = 0.8
    cap: float = 30.0
    #: Each delay is stretched by a random factor in [1, 1 + jitter] (client-go's jitter).
    jitter: float = 1.0

    def delay(self, failures: int) -> float:
        """Return the pause before attempt number `failures` + 1 (`failures` >= 1)."""
        base = min(self.cap, self.initial * 2.0 ** (failures - 1))
        return min(self.cap, base * (1 + random.random() * self.jitter))


class Outbox(Protocol):
    """What a watcher reports; the controller implements it and runs each on the loop."""

    def listed(self, kind: Kind, objects: list[KubeObject], reason: str) -> None:
        """A complete list of `kind` arrived (`reason`: initial, gone, error or resync)."""
        ...

    def event(self, kind: Kind, event: EventType, obj: KubeObject, trigger: str) -> None:
        """One watch event arrived (`trigger`: the slice's last-change-trigger-time or "")."""
        ...

    def up(self, kind: Kind, up: bool) -> None:
        """The watch of `kind` is established (True) or failing (False)."""
        ...


class Relist(Exception):
    """The watch cannot go on from its resourceVersion: list again for `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Where ServiceImports live (sigs.k8s.io/mcs-api): group, version, plural.
SERVICE_IMPORTS = ("multicluster.x-k8s.io", "v1alpha1", "serviceimports")


def _lister(kind: Kind, client: Any) -> Callable[..., Any]:
    api: Any = kubernetes.client  # typed as Any: the client's typing varies between releases
    if kind == "Service":
        return api.CoreV1Api(client).list_service_for_all_namespaces  # type: ignore[no-any-return]
    if kind in ("EndpointSlice", "MultiClusterEndpointSlice"):
        return api.DiscoveryV1Api(client).list_endpoint_slice_for_all_namespaces  # type: ignore[no-any-return]
    if kind == "Namespace":
        return api.CoreV1Api(client).list_namespace  # type: ignore[no-any-return]
    if kind == "ServiceImport":
        return partial(api.CustomObjectsApi(client).list_cluster_custom_object, *SERVICE_IMPORTS)
    return api.CoreV1Api(client).list_pod_for_all_namespaces  # type: ignore[no-any-return]


def _convert(kind: Kind, obj: dict[str, Any]) -> KubeObject | None:
    if kind == "Service":
        return convert.service(obj)
    if kind == "EndpointSlice":
        return convert.endpoint_slice(obj)
    if kind == "Namespace":
        return convert.namespace(obj)
    if kind == "ServiceImport":
        return convert.service_import(obj)
    if kind == "MultiClusterEndpointSlice":
        return convert.multicluster_slice(obj)
    return convert.pod(obj)


def _lines(response: Any) -> Iterator[bytes]:
    """Yield the newline-separated watch events of a streamed response as they arrive."""
    if response.chunked and response.supports_chunked_reads():
        chunks: Iterator[bytes] = response.read_chunked(decode_content=True)
    else:
        chunks = iter(lambda: bytes(response.read1(65536)), b"")
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


class Watcher:
    """Lists and watches one kind in a daemon thread until `stop()`."""

    def __init__(
        self,
        kind: Kind,
        connection: Connection,
        outbox: Outbox,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        backoff: Backoff | None = None,
        watch_timeout: tuple[int, int] = (300, 600),
        reuse: Callable[[KubeObject], KubeObject] | None = None,
    ) -> None:
        self.kind: Kind = kind
        self.connection = connection
        self.outbox = outbox
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.backoff = backoff or Backoff()
        self.watch_timeout = watch_timeout
        #: Maps a listed object to the equal one already held (Index.known), or None.
        self.reuse = reuse
        #: The newest resourceVersion seen (list, events, bookmarks); "" before the first list.
        self.resource_version = ""
        self._list = _lister(kind, connection.client)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None
        self._watching = False
        self._resync = False
        self._thread = threading.Thread(target=self._run, name=f"kubernetes {kind}", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and cut any request it is blocked in."""
        self._stop.set()
        self._cut(watch_only=False)

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the thread to end; tell whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def resync(self) -> None:
        """Re-list soon: now if watching (the stream is cut), else after the current list."""
        with self._lock:
            self._resync = True
        self._cut(watch_only=True)

    def _hold(self, response: Any, watching: bool = False) -> None:
        with self._lock:
            self._response, self._watching = response, watching
            late_resync = watching and self._resync
        if response is not None and (self._stop.is_set() or late_resync):
            self._cut(watch_only=False)  # a stop or resync asked while the request was made

    def _cut(self, *, watch_only: bool) -> None:
        with self._lock:
            response = self._response if (self._watching or not watch_only) else None
        if response is not None:
            # Wakes the thread blocked in a read on that socket; a response already released
            # or never connected has nothing to cut.
            with contextlib.suppress(Exception):
                response.shutdown()

    def _pause(self, failures: int) -> None:
        self._stop.wait(self.backoff.delay(failures))

    def _run(self) -> None:
        reason = "initial"
        failures = 0  # attempts in a row without a working watch: they set the backoff
        while not self._stop.is_set():
            try:
                if reason:
                    with self._lock:
                        self._resync = False
                    self._relist(reason)
                    reason = ""
                if self._watch():
                    failures = 0
                else:  # a stream that ended at once without a word: do not spin
                    failures += 1
                    self._pause(failures)
                continue
            except Stopped:
                return
            except Relist as exc:
                reason = exc.reason
                if reason == "resync":
                    continue
                failures += 1
                if reason == "gone":
                    if failures > 1:  # a 410 again right after a re-list: slow down
                        self._pause(failures - 1)
                    continue
            except Exception as exc:
                if self._stop.is_set():
                    return
                failures += 1
                hint = ""
                if reason and self._absent(exc):
                    # No ServiceImport CRD: there are none, so the first sync need not wait.
                    self.outbox.listed(self.kind, [], reason)
                    hint = " (is the multicluster.x-k8s.io ServiceImport CRD installed?)"
                what = "list" if reason else "watch"
                log.warning(f"{self.kind} {what} failed: {_why(exc)}{hint}")
            self.outbox.up(self.kind, False)
            self._pause(failures)

    def _absent(self, exc: Exception) -> bool:
        """Tell whether a list failed because the API does not serve the kind at all (404)."""
        return self.kind == "ServiceImport" and isinstance(exc, ApiException) and exc.status == 404

    def _relist(self, reason: str) -> None:
        """List every page, convert as it goes, and hand the complete set over."""
        objects: list[KubeObject] = []
        token: str | None = None
        while True:
            page = self.connection.get_json(
                lambda token=token: self._list(  # type: ignore[misc]
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    limit=self.page_size,
                    _continue=token,
                    _preload_content=False,
                    _request_timeout=(CONNECT_TIMEOUT, LIST_TIMEOUT),
                ),
                self._stop,
                self._hold,
                # One list is one request to the rate limit, however many pages it takes (a
                # 150,000-pod list is 300 pages: at 5 QPS that alone took a minute).
                limited=token is None,
            )
            for item in page.get("items") or ():
                obj = _convert(self.kind, item)
                if obj is not None:
                    objects.append(obj if self.reuse is None else self.reuse(obj))
            meta = page.get("metadata") or {}
            token = meta.get("continue") or None
            if token is None:
                self.resource_version = str(meta.get("resourceVersion") or "")
                break
        self.outbox.listed(self.kind, objects, reason)

    def _watch(self) -> bool:
        """Watch until the stream ends; tell whether it was a real one (raise to re-list).

        A stream that lasted under a second and delivered nothing counts as a failure.
        """
        low, high = self.watch_timeout
        timeout = random.randint(low, high)
        try:
            response = self.connection.open(
                lambda: self._list(
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    watch=True,
                    allow_watch_bookmarks=True,
                    resource_version=self.resource_version or None,
                    timeout_seconds=timeout,
                    _preload_content=False,
                    _request_timeout=(CONNECT_TIMEOUT, timeout + 30),
                ),
                self._stop,
            )
        except ApiException as exc:
            raise Relist("gone" if exc.status == 410 else "error") from exc
        self._hold(response, watching=True)
        started = time.monotonic()
        delivered = False
        try:
            self.outbox.up(self.kind, True)
            for line in _lines(response):
                self._handle(json.loads(line))
                delivered = True
        except Relist:
            raise
        except Exception as exc:
            if self._stop.is_set():
                raise Stopped from None
            if self._take_resync():  # the stream was cut on purpose
                raise Relist("resync") from None
            # A stream broken midway (API restart, idle proxy) is reopened like one that
            # ended; if the API is really gone, reopening it fails and says so.
            log.debug(f"{self.kind} watch stream broke: {_why(exc)}")
        finally:
            self._hold(None)
            response.close()
        if self._take_resync():
            raise Relist("resync")
        return delivered or time.monotonic() - started >= 1.0

    def _take_resync(self) -> bool:
        with self._lock:
            wanted, self._resync = self._resync, False
        return wanted

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            log.info(f"{self.kind} watch error {code}: {obj.get('message', '')}")
            raise Relist("gone" if code == 410 else "error")
        rv = convert.resource_version(obj)
        if kind == "BOOKMARK":
            self.resource_version = rv or self.resource_version
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return
        converted = _convert(self.kind, obj)
        if converted is None and kind == "DELETED" and self.kind == "Pod":
            converted = convert.pod_key(obj)
        if converted is not None:
            trigger = convert.trigger_time(obj) if self.kind == "EndpointSlice" else ""
            self.outbox.event(self.kind, kind, converted, trigger)
        self.resource_version = rv or self.resource_version


def _why(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"API answered {exc.status} {exc.reason or ''}".rstrip()
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "..."
