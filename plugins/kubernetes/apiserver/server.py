"""ApiServer: the cluster served over HTTP on a local port, with hooks tests use."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from kdns.plugins.kubernetes.apiserver import http, manifests
from kdns.plugins.kubernetes.apiserver.api import Api, Target
from kdns.plugins.kubernetes.apiserver.cluster import Cluster
from kdns.plugins.kubernetes.apiserver.defaults import SERVICE_CIDRS, Clock
from kdns.plugins.kubernetes.apiserver.errors import ApiError
from kdns.plugins.kubernetes.apiserver.resources import BY_KIND, RESOURCES

Obj = dict[str, Any]
log = logging.getLogger("kdns.apiserver")


def plural_of(name: str) -> str:
    """Resolve a plural, kind or short name (`services`, `Service`, `svc`) to the plural."""
    if name in RESOURCES:
        return name
    if name in BY_KIND:
        return BY_KIND[name].plural
    for resource in RESOURCES.values():
        if name in resource.short_names or name == resource.singular:
            return resource.plural
    raise KeyError(f"unknown resource {name!r}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ApiServer:
    """A small Kubernetes API server (core/v1 Services, Pods, Namespaces; discovery.k8s.io/v1
    EndpointSlices; multicluster.x-k8s.io/v1alpha1 ServiceImports) loaded from manifests,
    speaking HTTP/1.1 JSON on `url`."""

    def __init__(
        self,
        manifests: Iterable[Path | str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        event_window: int = 1000,
        *,
        bookmark_interval: float = 60.0,
        poll_interval: float = 0.5,
        clock: Clock = _utcnow,
        service_cidrs: Iterable[str] = SERVICE_CIDRS,
    ):
        self.manifests = [Path(p) for p in manifests]
        self.host = host
        self.port = port
        self.poll_interval = poll_interval
        self.cluster = Cluster(event_window, clock, service_cidrs)
        self.api = Api(self.cluster, clock, lambda: f"{self.host}:{self.port}", bookmark_interval)
        self.warnings: list[str] = []
        self.reloads = 0
        self._loaded = False
        self._stamps: dict[Path, tuple[int, int]] = {}
        self._server: asyncio.Server | None = None
        self._poller: asyncio.Task[None] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # The expire hook over HTTP, for a server running in another process (benchmarks).
        self.api.hooks["/debug/expire"] = lambda: {"oldestResourceVersion": str(self.expire())}

    @property
    def url(self) -> str:
        """The base URL (`http://127.0.0.1:PORT`); the port is known once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the manifests (first start only), listen, and poll the files for changes.

        After `stop()`, `start()` listens again on the same port with the same objects and
        resourceVersions, as an API server restarting over the same etcd.
        """
        if not self._loaded:
            self.load()
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, limit=http.MAX_HEAD
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.manifests and self.poll_interval > 0:
            self._poller = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        """Stop listening and drop every connection (watches end without their last chunk)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._server is not None:
            self._server.close()
            for watch in list(self.api.watches):
                watch.stop(abort=True)
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while (req := await http.read_request(reader)) is not None:
                if not await self.api.handle(req, reader, writer):
                    break
        except http.HttpError as err:
            writer.write(http.response(400, str(err).encode(), "text/plain", keep_alive=False))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    # -- manifests --------------------------------------------------------------------------

    def _stamp(self) -> dict[Path, tuple[int, int]]:
        stamps = {}
        for path in self.manifests:
            with contextlib.suppress(OSError):
                st = path.stat()
                stamps[path] = (st.st_mtime_ns, st.st_size)
        return stamps

    def load(self) -> None:
        """Read the manifests now (`start()` does it on first start if not done yet)."""
        self._stamps = self._stamp()
        objects, self.warnings = manifests.load(self.manifests)
        self.cluster.sync(objects, record=False)
        self.cluster.store.compact()
        self._loaded = True

    def reload(self) -> int:
        """Re-read the manifest files now and apply what changed, as watch events.

        Returns the number of objects written or deleted. Raises `ManifestError` (and changes
        nothing) if a file cannot be read.
        """
        stamps = self._stamp()
        objects, warnings = manifests.load(self.manifests)
        self._stamps, self.warnings = stamps, warnings
        self.reloads += 1
        return self.cluster.sync(objects)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            if self._stamp() != self._stamps:
                try:
                    touched = self.reload()
                    log.info("manifests reloaded: %d objects changed", touched)
                except (manifests.ManifestError, ApiError) as err:
                    self._stamps = self._stamp()
                    log.error("manifests not reloaded: %s", err)

    # -- objects ----------------------------------------------------------------------------

    def apply(self, obj: Obj) -> Obj:
        """Create or replace an object by its kind (namespaces are created as needed)."""
        return json.loads(self.cluster.apply(obj).raw)  # type: ignore[no-any-return]

    def create(self, obj: Obj) -> Obj:
        """Create an object (409 ApiError if it exists)."""
        plural = BY_KIND[obj["kind"]].plural
        return json.loads(self.cluster.create(plural, obj).raw)  # type: ignore[no-any-return]

    def patch(self, resource: str, namespace: str, name: str, patch: Obj) -> Obj:
        """Apply a JSON merge patch (`{"metadata": {"labels": {"a": null}}}` removes a label)."""
        entry = self.cluster.patch(plural_of(resource), namespace, name, patch)
        return json.loads(entry.raw)  # type: ignore[no-any-return]

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        """Delete an object; return it as it was deleted."""
        entry = self.cluster.delete(plural_of(resource), namespace, name)
        return json.loads(entry.raw)  # type: ignore[no-any-return]

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        """One object as the API serves it, or None."""
        plural = plural_of(resource)
        key = (namespace if RESOURCES[plural].namespaced else "", name)
        entry = self.cluster.store.get(plural, key)
        return None if entry is None else json.loads(entry.raw)

    def list(self, resource: str, namespace: str | None = None, **query: str) -> Obj:
        """A list as `GET` serves it (query: labelSelector, fieldSelector, limit, ...)."""
        target = Target(RESOURCES[plural_of(resource)], namespace, None, False)
        return json.loads(self.api.list(target, query))  # type: ignore[no-any-return]

    @property
    def resource_version(self) -> int:
        """The current resourceVersion (shared by every resource)."""
        return self.cluster.store.rv

    # -- test hooks -------------------------------------------------------------------------

    @property
    def list_calls(self) -> Counter[str]:
        """Non-watch GETs on collections so far, by plural (`services`)."""
        return self.api.list_calls

    @property
    def watch_calls(self) -> Counter[str]:
        """Watch requests so far, by plural."""
        return self.api.watch_calls

    @property
    def open_watches(self) -> Counter[str]:
        """Watches streaming now, by plural."""
        return Counter(w.coll.resource.plural for w in self.api.watches)

    async def wait_for_watches(
        self, count: int, resource: str | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until exactly `count` watches (of `resource`, if given) are streaming."""
        plural = plural_of(resource) if resource else None

        def settled() -> bool:
            opened = self.open_watches
            return (opened[plural] if plural else sum(opened.values())) == count

        async with asyncio.timeout(timeout):
            while not settled():
                await asyncio.sleep(0.005)

    def cut_watches(self, *, abort: bool = True) -> int:
        """End every watch (abort: drop the connection mid-stream); return how many."""
        watches = list(self.api.watches)
        for watch in watches:
            watch.stop(abort=abort)
        return len(watches)

    def expire(self, *, notify: bool = True) -> int:
        """Forget every kept event so any resume from an earlier resourceVersion gets 410.

        With `notify`, open watches receive an ERROR 410 event and end. Returns the oldest
        resourceVersion a watch may start from now.
        """
        floor = self.cluster.store.compact(bump=True)
        if notify:
            for watch in list(self.api.watches):
                watch.expire(floor)
        return floor

    # -- faults ---------------------------------------------------------------------------

    def slow(self, seconds: float) -> None:
        """Hold every answer (lists, gets, writes, watch starts) back `seconds`; 0 undoes it."""
        self.api.delay = max(seconds, 0.0)

    def tear_watches(self, *, abort: bool = True) -> int:
        """Make every open watch break at its next event: half of the event's JSON line is
        sent, then the connection is dropped (abort) or the body ends; return how many."""
        watches = list(self.api.watches)
        for watch in watches:
            watch.tear = "abort" if abort else "end"
        return len(watches)

    def refuse_watches(self, mode: Literal["event", "status"] | None = "event") -> None:
        """Answer every new watch with 410 Gone until called with None: an ERROR event in a
        200 stream ("event", as a watch cache does) or a 410 response ("status")."""
        self.api.refuse = mode

    @property
    def refused_watches(self) -> int:
        """Watches refused with 410 so far by `refuse_watches`."""
        return self.api.refused

    def burst(self, changes: Iterable[Obj | tuple[str, str, str]]) -> int:
        """Apply many changes at once, without yielding to the loop: an object is applied,
        a (resource, namespace, name) triple is deleted (if it exists); return how many."""
        done = 0
        for change in changes:
            if isinstance(change, tuple):
                with contextlib.suppress(ApiError):
                    self.delete(*change)
                    done += 1
            else:
                self.cluster.apply(change)
                done += 1
        return done

    def send_bookmarks(self) -> None:
        """Make every watch that allows bookmarks send one now."""
        for watch in list(self.api.watches):
            watch.bookmark_due = True
            watch.coll.notify()
