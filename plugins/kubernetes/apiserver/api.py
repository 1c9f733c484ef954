"""Request routing and the REST semantics: discovery, list, get, watch, create, update, delete."""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import yaml

from kdns.plugins.kubernetes.apiserver import http, openapi, resources, validation
from kdns.plugins.kubernetes.apiserver.cluster import Cluster, merge_patch
from kdns.plugins.kubernetes.apiserver.errors import ApiError, expired
from kdns.plugins.kubernetes.apiserver.patch import strategic_merge
from kdns.plugins.kubernetes.apiserver.resources import RESOURCES, Resource
from kdns.plugins.kubernetes.apiserver.selectors import FieldRequirement, Filter, make_filter
from kdns.plugins.kubernetes.apiserver.store import Key, dumps
from kdns.plugins.kubernetes.apiserver.table import table
from kdns.plugins.kubernetes.apiserver.watch import Watch

Obj = dict[str, Any]
_MERGE = "application/merge-patch+json"
_STRATEGIC = "application/strategic-merge-patch+json"
#: Server-side apply, simplified: create, or a strategic merge of the applied configuration
#: (no managedFields: fields a manager stops applying stay, and nothing conflicts).
_APPLY = "application/apply-patch+yaml"


@dataclass(frozen=True, slots=True)
class Target:
    """What a resource URL names: a collection (name None) or one object."""

    resource: Resource
    namespace: str | None
    name: str | None
    watch: bool


def negotiate(accept: str) -> str | None:
    """Pick `json` or `table` from an Accept header; None when neither is acceptable."""
    if not accept.strip():
        return "json"
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        if fields[0].lower() not in ("application/json", "application/*", "*/*"):
            continue
        if "as" not in params:
            return "json"
        if params["as"] == "Table" and params.get("g", "meta.k8s.io") == "meta.k8s.io":
            return "table"
    return None


def parse_target(path: str) -> Target | None:
    """Read a resource URL (`/api/v1/namespaces/NS/services/NAME`, `/apis/G/V/...`)."""
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"]:
        gv, rest = "v1", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        gv, rest = f"{segs[1]}/{segs[2]}", segs[3:]
    else:
        return None
    watch = bool(rest) and rest[0] == "watch"
    rest = rest[1:] if watch else rest
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace: str | None = rest[1]
        rest = rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces" and gv == "v1":
        return Target(RESOURCES["namespaces"], None, rest[1], watch)
    else:
        namespace = None
    if not rest or len(rest) > 3 or (len(rest) == 3 and rest[2] != "status"):
        return None
    resource = RESOURCES.get(rest[0])
    if resource is None or resource.group_version != gv:
        return None
    if namespace is not None and not resource.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else None
    if name is not None and resource.namespaced and namespace is None:
        return None
    return Target(resource, namespace, name, watch)


def _encode_continue(rv: int, key: Key) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": f"{key[0]}/{key[1]}\x00"}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")


def _decode_continue(text: str) -> tuple[int, Key]:
    try:
        token = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        ns, _, name = token["start"].rstrip("\x00").partition("/")
        return int(token["rv"]), (ns, name)
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise ApiError(400, f"continue key is not valid: {err}") from err


def _int(query: dict[str, str], name: str) -> int | None:
    value = query.get(name, "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError as err:
        raise ApiError(400, f"invalid value for {name}: {value!r}") from err


class Api:
    """Answers requests against a Cluster; counts lists and watches per resource for tests."""

    def __init__(
        self,
        cluster: Cluster,
        now: Callable[[], datetime],
        address: Callable[[], str],
        bookmark_interval: float = 60.0,
    ):
        self.cluster = cluster
        self.now = now
        self.address = address
        self.bookmark_interval = bookmark_interval
        self.list_calls: Counter[str] = Counter()
        self.watch_calls: Counter[str] = Counter()
        self.watches: set[Watch] = set()
        #: POST-only paths outside the API (`/debug/expire`): path -> action returning a body.
        self.hooks: dict[str, Callable[[], Obj]] = {}
        #: Fault: seconds every request waits before it is answered (a slow API server).
        self.delay = 0.0
        #: Fault: refuse every new watch with 410 Gone, as an ERROR event in a 200 stream
        #: ("event") or as the request's own status ("status"); None serves watches.
        self.refuse: Literal["event", "status"] | None = None
        #: Watches refused so far because of `refuse`.
        self.refused = 0

    async def handle(
        self, req: http.Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; return whether the connection stays open."""
        keep = req.keep_alive
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        try:
            target = parse_target(req.path)
            fmt = negotiate(req.headers.get("accept", ""))
            if target is None:
                code, body = 200, self._static(req)
            elif fmt is None:
                raise ApiError(406, "only application/json and Table are served")
            elif req.method == "GET" and (
                target.watch or (target.name is None and req.query.get("watch") in ("1", "true"))
            ):
                return await self._watch(target, req, reader, writer, fmt == "table") and keep
            else:
                code, body = self._rest(target, req, fmt)
        except ApiError as err:
            code, body = err.code, dumps(err.status)
        writer.write(http.response(code, body, keep_alive=keep))
        await writer.drain()
        return keep

    def _static(self, req: http.Request) -> bytes:
        path = req.path.rstrip("/") or "/"
        if path in self.hooks and req.method == "POST":
            return dumps(self.hooks[path]())
        if req.method != "GET":
            raise ApiError(405, f"the server does not allow this method on {req.path}")
        doc: Obj | None = None
        if path == "/version":
            doc = resources.VERSION
        elif path == "/api":
            doc = resources.api_versions(self.address())
        elif path == "/apis":
            doc = resources.api_group_list()
        elif path.startswith("/apis/") and path.count("/") == 2 and path[6:] in resources.GROUPS:
            doc = resources.api_group(path[6:])
        elif path == "/api/v1":
            doc = resources.api_resource_list("v1")
        elif path.startswith("/apis/") and path.count("/") == 3:
            doc = resources.api_resource_list(path[6:])
        elif path in ("/healthz", "/readyz", "/livez"):
            return b"ok"
        elif path.startswith("/openapi/v3"):
            doc = openapi.lookup(path)
        if doc is None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        return dumps(doc)

    def _rest(self, target: Target, req: http.Request, fmt: str) -> tuple[int, bytes]:
        plural, ns = target.resource.plural, target.namespace or ""
        if req.query.get("dryRun") and req.method != "GET":  # rather refused than written
            raise ApiError(400, "dryRun is not supported by this API server")
        if target.name is None:
            if req.method == "GET":
                self.list_calls[plural] += 1
                return 200, self.list(target, req.query, fmt)
            if req.method == "POST" and (target.namespace or not target.resource.namespaced):
                obj = self._body(req, target)
                return 201, self.cluster.create(plural, obj).raw
            raise ApiError(405, f"{req.method} is not allowed on a collection")
        if req.method == "GET":
            entry = self.cluster.get(plural, ns, target.name)
            if fmt == "table":
                meta = {"resourceVersion": str(entry.rv)}
                return 200, table(
                    [entry.obj],
                    target.resource.kind,
                    self.now(),
                    meta,
                    req.query.get("includeObject", ""),
                )
            return 200, entry.raw
        if req.method == "PUT":
            obj = self._body(req, target)
            if obj.get("metadata", {}).get("name") != target.name:
                raise ApiError(400, "the name of the object does not match the name on the URL")
            return 200, self.cluster.replace(plural, obj).raw
        if req.method == "PATCH":
            return self._patch(target, req)
        if req.method == "DELETE":
            return 200, self.cluster.delete(plural, ns, target.name).raw
        raise ApiError(405, f"{req.method} is not allowed on an object")

    def _patch(self, target: Target, req: http.Request) -> tuple[int, bytes]:
        resource, ns, name = target.resource, target.namespace or "", target.name or ""
        kind = req.headers.get("content-type", "").split(";")[0].strip()
        if kind not in (_MERGE, _STRATEGIC, _APPLY):
            raise ApiError(415, f"the patch type {kind!r} is not supported")
        if kind == _APPLY:  # a partial object: only what it creates or merges into is checked
            patch = self._body(req, target, check=False)
            if patch["metadata"].get("name") != name:
                raise ApiError(400, "the name of the object does not match the name on the URL")
            if self.cluster.store.get(resource.plural, (ns, name)) is None:
                self._validate(target, patch, req)
                return 201, self.cluster.create(resource.plural, patch).raw
        else:
            patch = self._json(req)

        def merge(current: Obj, patch: Obj) -> Obj:
            if kind == _MERGE:
                merged: Obj = merge_patch(current, patch)
            else:
                merged = strategic_merge(current, patch, resource.kind)
            self._validate(target, merged, req)
            return merged

        return 200, self.cluster.patch(resource.plural, ns, name, patch, merge=merge).raw

    def _validate(self, target: Target, obj: Obj, req: http.Request) -> None:
        typed = {**obj, "kind": target.resource.kind, "apiVersion": target.resource.api_version}
        validation.check(typed, req.query.get("fieldValidation", ""))

    def _json(self, req: http.Request) -> Obj:
        try:
            obj = json.loads(req.body or b"{}")
        except ValueError as err:
            if not req.headers.get("content-type", "").startswith(_APPLY):
                raise ApiError(400, f"the body is not JSON: {err}") from err
            try:  # an apply patch may be YAML
                obj = yaml.safe_load(req.body)
            except yaml.YAMLError as yerr:
                raise ApiError(400, f"the body is not YAML: {yerr}") from yerr
        if not isinstance(obj, dict):
            raise ApiError(400, "the body is not a JSON object")
        return obj

    def _body(self, req: http.Request, target: Target, check: bool = True) -> Obj:
        obj = self._json(req)
        meta = obj.setdefault("metadata", {})
        namespaced = target.resource.namespaced
        if namespaced and meta.setdefault("namespace", target.namespace) != target.namespace:
            raise ApiError(
                400,
                "the namespace of the provided object does not match the "
                "namespace sent on the request",
            )
        if check:
            self._validate(target, obj, req)
        return obj

    def list(self, target: Target, query: dict[str, str], fmt: str = "json") -> bytes:
        """One page of a list, as JSON or Table."""
        coll = self.cluster.store[target.resource.plural]
        flt = make_filter(target.resource, target.namespace, query)
        limit = _int(query, "limit") or 0
        start: Key | None = None
        if token := query.get("continue"):
            list_rv, start = _decode_continue(token)
            if list_rv < coll.compacted:
                raise expired(
                    "The provided continue parameter is too old to display a "
                    "consistent list result. You can start a new list without the "
                    "continue parameter."
                )
        else:
            list_rv = self.cluster.store.rv
            asked = _int(query, "resourceVersion")
            if asked is not None and asked > list_rv:
                raise ApiError(
                    504, f"Too large resource version: {asked}, current: {list_rv}", "Timeout"
                )
            if query.get("resourceVersionMatch") == "Exact" and asked not in (None, list_rv):
                raise expired(f"too old resource version: {asked} ({list_rv})")
        keys = coll.sorted_keys()
        lo, hi = 0, len(keys)
        if target.namespace is not None:
            lo = bisect.bisect_left(keys, (target.namespace, ""))
            hi = bisect.bisect_right(keys, (target.namespace, "\U0010ffff"))
        if start is not None:
            lo = max(lo, bisect.bisect_right(keys, start))
        check = flt.selects
        entries = []
        meta: Obj = {"resourceVersion": str(list_rv)}
        for i in range(lo, hi):
            entry = coll.items[keys[i]]
            if check and not flt.matches(entry.obj):
                continue
            entries.append(entry)
            if limit and len(entries) == limit:
                if i + 1 < hi:
                    meta["continue"] = _encode_continue(list_rv, keys[i])
                    if not check:
                        meta["remainingItemCount"] = hi - i - 1
                break
        if fmt == "table":
            objs = [e.obj for e in entries]
            return table(
                objs, target.resource.kind, self.now(), meta, query.get("includeObject", "")
            )
        head = {
            "kind": target.resource.list_kind,
            "apiVersion": target.resource.api_version,
            "metadata": meta,
        }
        return dumps(head)[:-1] + b',"items":[' + b",".join(e.raw for e in entries) + b"]}"

    async def _watch(
        self,
        target: Target,
        req: http.Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        as_table: bool,
    ) -> bool:
        plural = target.resource.plural
        flt = make_filter(target.resource, target.namespace, req.query)
        if target.name is not None:
            by_name = FieldRequirement("metadata.name", "=", target.name)
            flt = Filter(flt.resource, flt.namespace, flt.labels, (*flt.fields, by_name))
        self.watch_calls[plural] += 1
        rv = req.query.get("resourceVersion", "")
        if self.refuse is not None:
            self.refused += 1
            gone = expired(f"too old resource version: {rv or 0} ({self.cluster.store.rv})")
            if self.refuse == "status":
                raise gone
            line = b'{"type":"ERROR","object":' + dumps(gone.status) + b"}\n"
            writer.write(http.chunked_head() + http.chunk(line) + http.LAST_CHUNK)
            await writer.drain()
            return True
        initial = req.query.get("sendInitialEvents") == "true"
        since = None if rv in ("", "0") or initial else _int(req.query, "resourceVersion")
        watch = Watch(
            self.cluster.store,
            self.cluster.store[plural],
            flt,
            reader,
            writer,
            since=since,
            bookmarks=req.query.get("allowWatchBookmarks") in ("1", "true"),
            timeout=float(_int(req.query, "timeoutSeconds") or 0) or None,
            as_table=as_table,
            initial_end_bookmark=initial,
            bookmark_interval=self.bookmark_interval,
            now=self.now,
        )
        self.watches.add(watch)
        try:
            return await watch.run()
        finally:
            self.watches.discard(watch)
