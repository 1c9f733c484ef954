"""Helpers for the kubernetes watch tests: a recording Sink and a tiny list/watch stub server.

The stub knows four collections by URL path, keeps an event log with resourceVersions, replays a
watch from any version still in the log, records every query, and can cut streams, answer 410,
send bookmarks at an exact version, change or delete objects silently (no event), and stop and
start again on the same port. The project's own ApiServer covers the realistic cases; the stub
is for the request-level details.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kdns.plugins.kubernetes.objects import EventType, Kind, KubeObject, Namespace
from kdns.plugins.kubernetes.watcher import Backoff

#: A backoff for tests: retry within milliseconds.
FAST = Backoff(initial=0.01, cap=0.05, jitter=0)


def key(obj: KubeObject) -> tuple[str, str]:
    """The (namespace, name) an object is kept under ("" namespace for Namespaces)."""
    return ("", obj.name) if isinstance(obj, Namespace) else (obj.namespace, obj.name)


class RecordingSink:
    """A Sink that keeps what it was told, notes the thread, and lets tests await a state."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.state: dict[Kind, dict[tuple[str, str], KubeObject]] = {}
        self.synced = 0
        self.threads: set[int] = set()
        self.changed = asyncio.Event()

    def _note(self, *call: Any) -> None:
        self.calls.append(call)
        self.threads.add(threading.get_ident())
        self.changed.set()

    def replace(self, kind: Kind, objects: list[KubeObject]) -> None:
        """Swap in the set of `kind`."""
        self.state[kind] = {key(o): o for o in objects}
        self._note("replace", kind, list(objects))

    def apply(self, kind: Kind, event: EventType, obj: KubeObject) -> None:
        """Apply one event."""
        if event == "DELETED":
            self.state.setdefault(kind, {}).pop(key(obj), None)
        else:
            self.state.setdefault(kind, {})[key(obj)] = obj
        self._note("apply", kind, event, obj)

    def mark_synced(self) -> None:
        """Count the sync."""
        self.synced += 1
        self._note("synced")

    def names(self, kind: Kind) -> set[str]:
        """The names of `kind` the sink holds now."""
        return {k[1] for k in self.state.get(kind, {})}

    def events(self, name: str) -> list[str]:
        """The event types applied so far to objects called `name`."""
        return [c[2] for c in self.calls if c[0] == "apply" and c[3].name == name]

    async def until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `check()` holds after some sink call (fail after `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            while not check():
                self.changed.clear()
                await self.changed.wait()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a state outside the sink (metrics, server counters)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


PATHS = {
    "Service": "/api/v1/services",
    "EndpointSlice": "/apis/discovery.k8s.io/v1/endpointslices",
    "Namespace": "/api/v1/namespaces",
    "Pod": "/api/v1/pods",
}
KINDS = {path: kind for kind, path in PATHS.items()}


class Stub:
    """The server state; tests change it with `put`, `delete`, `cut`, `gone`, `bookmark`."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {p: {} for p in KINDS}
        self.log: list[tuple[int, str, str, dict[str, Any]]] = []
        self.rv = 100
        self.cond = threading.Condition()
        self.lists: Counter[str] = Counter()
        self.watches: Counter[str] = Counter()
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.gone_next: set[str] = set()
        self.cuts = 0
        self.compacted = 0
        self.running = False
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL to put in `endpoint`."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve (again, on the same port after a stop)."""
        stub = self

        class Handler(_Handler):
            state = stub

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.running = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        """Stop serving and end every watch stream."""
        with self.cond:
            self.running = False
            self.cond.notify_all()
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def put(self, kind: str, obj: dict[str, Any], *, silent: bool = False) -> int:
        """Create or replace an object; log the event unless `silent`; return its version."""
        path = PATHS[kind]
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        with self.cond:
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            event = "MODIFIED" if key in self.objects[path] else "ADDED"
            self.objects[path][key] = obj
            if not silent:
                self.log.append((self.rv, path, event, obj))
            self.cond.notify_all()
            return self.rv

    def delete(self, kind: str, name: str, namespace: str = "", *, silent: bool = False) -> None:
        """Delete an object (logging DELETED unless `silent`)."""
        path = PATHS[kind]
        with self.cond:
            obj = self.objects[path].pop((namespace, name))
            self.rv += 1
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
            if not silent:
                self.log.append((self.rv, path, "DELETED", obj))
            self.cond.notify_all()

    def bookmark(self, kind: str) -> int:
        """Advance the version with an unrelated change and send a BOOKMARK at it."""
        with self.cond:
            self.rv += 1
            bookmark = {"kind": kind, "metadata": {"resourceVersion": str(self.rv)}}
            self.log.append((self.rv, PATHS[kind], "BOOKMARK", bookmark))
            self.cond.notify_all()
            return self.rv

    def gone(self, kind: str) -> None:
        """Answer the open (or next) watch of `kind` with an ERROR event, code 410."""
        with self.cond:
            self.gone_next.add(PATHS[kind])
            self.cond.notify_all()

    def cut(self) -> None:
        """End every open watch stream (the client must reconnect)."""
        with self.cond:
            self.cuts += 1
            self.cond.notify_all()

    def forget(self) -> None:
        """Drop the event log, so a watch from an older version gets 410 (compaction)."""
        with self.cond:
            self.log.clear()
            self.compacted = self.rv


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: Stub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        stub = self.state
        if url.path not in KINDS:
            self._send(404, {"kind": "Status", "code": 404})
            return
        stub.queries.append((url.path, query))
        if query.get("watch") == "true":
            self._watch(url.path, int(query.get("resourceVersion") or 0))
        else:
            self._list(url.path, query)

    def _list(self, path: str, query: dict[str, str]) -> None:
        stub = self.state
        with stub.cond:
            stub.lists[path] += 1
            items = [stub.objects[path][k] for k in sorted(stub.objects[path])]
            rv = stub.rv
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or len(items) or 1)
        page = items[start : start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        self._send(200, {"kind": "List", "metadata": meta, "items": page})

    def _chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, path: str, since: int) -> None:
        stub = self.state
        with stub.cond:
            stub.watches[path] += 1
            expired = since < stub.compacted
            cuts = stub.cuts
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = since
        try:
            if expired:
                self._chunk({"type": "ERROR", "object": {"kind": "Status", "code": 410}})
                return
            while True:
                with stub.cond:
                    while True:
                        if not stub.running or stub.cuts != cuts:
                            return
                        if path in stub.gone_next:
                            stub.gone_next.discard(path)
                            self._chunk(
                                {"type": "ERROR", "object": {"kind": "Status", "code": 410}}
                            )
                            return
                        pending = [e for e in stub.log if e[0] > sent and e[1] == path]
                        if pending:
                            break
                        stub.cond.wait(0.5)
                for rv, _, kind, obj in pending:
                    self._chunk({"type": kind, "object": obj})
                    sent = rv
        except OSError:
            return
        finally:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
