"""The cluster state behind the API: writes with defaults, and EndpointSlices kept derived."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from kdns.plugins.kubernetes.apiserver.controller import (
    CONTROLLER,
    MANAGED_BY,
    SERVICE_NAME,
    desired_slices,
    selector_of,
    selects,
)
from kdns.plugins.kubernetes.apiserver.defaults import SERVICE_CIDRS, Clock, Defaulter
from kdns.plugins.kubernetes.apiserver.errors import ApiError, not_found
from kdns.plugins.kubernetes.apiserver.resources import BY_KIND, RESOURCES, Resource
from kdns.plugins.kubernetes.apiserver.store import Entry, Key, Store

Obj = dict[str, Any]
ManifestKey = tuple[str, str, str]

BASE_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_FIRST = ("namespaces", "services", "pods", "endpointslices", "serviceimports")
#: The order manifests are applied in (namespaces first); deletes go in reverse.
_ORDER = (*_FIRST, *(p for p in RESOURCES if p not in _FIRST))


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch (null deletes a key, lists are replaced)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Cluster:
    """Objects of every served kind; each write bumps the version, records an event, and
    re-derives the EndpointSlices of the Services it touches."""

    def __init__(
        self, window: int = 1000, clock: Clock = _utcnow, cidrs: Iterable[str] = SERVICE_CIDRS
    ):
        self.store = Store(window)
        self.defaulter = Defaulter(clock, cidrs)
        self.clock = clock
        #: (namespace, label, value) -> names of pods carrying that label.
        self._postings: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        #: namespace -> service name -> selector, for services that have one.
        self._selectors: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
        #: (namespace, label, value) -> services whose selector's first term is that label.
        self._by_term: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        #: (namespace, service) -> names of the slices derived for it.
        self._managed: dict[Key, set[str]] = defaultdict(set)
        #: The manifests last loaded, as written, to diff a reload against.
        self.manifests: dict[ManifestKey, Obj] = {}
        #: While a sync runs, the services to reconcile once at its end.
        self._deferred: dict[Key, bool] | None = None

    # -- reads ------------------------------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> Entry:
        """The stored entry, or a 404 ApiError."""
        resource = RESOURCES[plural]
        entry = self.store.get(plural, (namespace if resource.namespaced else "", name))
        if entry is None:
            raise not_found(resource.kind, plural, name, resource.group)
        return entry

    # -- writes -----------------------------------------------------------------------------

    def create(self, plural: str, obj: Obj, *, strict: bool = True, record: bool = True) -> Entry:
        """Create an object; 409 if it exists, 404 (strict) if its namespace does not."""
        resource = RESOURCES[plural]
        prepared = self._prepare(resource, obj, None)
        key = (prepared["metadata"].get("namespace", ""), prepared["metadata"]["name"])
        if self.store.get(plural, key) is not None:
            raise ApiError(
                409, f'{plural} "{key[1]}" already exists', details={"name": key[1], "kind": plural}
            )
        self._ensure_namespace(resource, key[0], strict=strict, record=record)
        return self._write(resource, prepared, None, record)

    def replace(self, plural: str, obj: Obj, *, record: bool = True) -> Entry:
        """Replace an existing object; 404 if missing, 409 on a stale resourceVersion."""
        resource = RESOURCES[plural]
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace", "default") if resource.namespaced else ""
        old = self.get(plural, namespace, str(meta.get("name", "")))
        if meta.get("resourceVersion") not in (None, "", str(old.rv)):
            raise ApiError(
                409,
                f'Operation cannot be fulfilled on {plural} "{meta["name"]}": the object has '
                "been modified; please apply your changes to the latest version and try again",
                "Conflict",
            )
        return self._write(resource, self._prepare(resource, obj, old.obj), old, record)

    def apply(self, obj: Obj, *, record: bool = True) -> Entry:
        """Create or replace by kind (like `kubectl apply`), creating a missing namespace."""
        resource = BY_KIND[obj.get("kind", "")]
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace", "default") if resource.namespaced else ""
        if self.store.get(resource.plural, (namespace, meta.get("name", ""))) is None:
            return self.create(resource.plural, obj, strict=False, record=record)
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
        return self.replace(resource.plural, obj, record=record)

    def patch(
        self,
        plural: str,
        namespace: str,
        name: str,
        patch: Obj,
        merge: Callable[[Obj, Obj], Obj] = merge_patch,
    ) -> Entry:
        """Apply a patch to an object: a JSON merge patch unless `merge` says otherwise."""
        current = json.loads(self.get(plural, namespace, name).raw)
        merged = merge(current, patch)
        merged.setdefault("metadata", {})["name"] = name
        if RESOURCES[plural].namespaced:
            merged["metadata"]["namespace"] = namespace
        return self.replace(plural, merged)

    def delete(self, plural: str, namespace: str, name: str) -> Entry:
        """Delete an object (a namespace takes its objects with it); return it as deleted."""
        resource = RESOURCES[plural]
        entry = self.get(plural, namespace, name)
        if plural == "namespaces":
            for inner in [p for p in reversed(_ORDER) if RESOURCES[p].namespaced]:
                coll = self.store[inner]
                for key in [k for k in coll.items if k[0] == name]:
                    self._remove(RESOURCES[inner], coll.items[key])
        return self._remove(resource, entry) or entry

    # -- manifests --------------------------------------------------------------------------

    def sync(self, objects: Iterable[Obj], *, record: bool = True) -> int:
        """Make the cluster match new manifests: write what changed since the last load and
        delete what they dropped; return the number of objects touched."""
        new: dict[ManifestKey, Obj] = {}
        for obj in objects:
            resource = BY_KIND[obj["kind"]]
            meta = obj["metadata"]
            ns = str(meta.get("namespace") or "default") if resource.namespaced else ""
            new[(resource.plural, ns, str(meta["name"]))] = obj
        if not record:
            for name in BASE_NAMESPACES:
                if ("namespaces", "", name) not in new:
                    self._ensure_namespace(RESOURCES["services"], name, strict=False, record=False)
        touched = 0
        self._deferred = {}
        try:
            touched = self._sync(new, record)
        finally:
            deferred, self._deferred = self._deferred, None
            for (ns, name), rec in deferred.items():
                self.reconcile(ns, name, record=rec)
        self.manifests = new
        return touched

    def _sync(self, new: dict[ManifestKey, Obj], record: bool) -> int:
        touched = 0
        for plural in _ORDER:
            for key, obj in new.items():
                if key[0] == plural and self.manifests.get(key) != obj:
                    self.apply(obj, record=record)
                    touched += 1
        for plural in reversed(_ORDER):
            for key in self.manifests.keys() - new.keys():
                if key[0] == plural and self.store.get(plural, (key[1], key[2])) is not None:
                    self.delete(*key)
                    touched += 1
        return touched

    # -- internals --------------------------------------------------------------------------

    def _prepare(self, resource: Resource, obj: Obj, old: Obj | None) -> Obj:
        prepared = self.defaulter.prepare(resource.kind, resource.namespaced, obj, old)
        prepared["kind"] = resource.kind
        prepared["apiVersion"] = resource.api_version
        return prepared

    def _ensure_namespace(
        self, resource: Resource, namespace: str, *, strict: bool, record: bool
    ) -> None:
        if not resource.namespaced or self.store.get("namespaces", ("", namespace)):
            return
        if strict:
            raise not_found("Namespace", "namespaces", namespace)
        self._write(
            RESOURCES["namespaces"],
            self._prepare(RESOURCES["namespaces"], {"metadata": {"name": namespace}}, None),
            None,
            record,
        )

    def _write(self, resource: Resource, obj: Obj, old: Entry | None, record: bool) -> Entry:
        self.store.put(resource.plural, obj, record=record)
        entry = self.store.get(
            resource.plural, (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        )
        assert entry is not None
        self._after(resource.plural, old.obj if old else None, entry.obj, record)
        return entry

    def _remove(self, resource: Resource, entry: Entry) -> Entry | None:
        meta = entry.obj["metadata"]
        event = self.store.delete(resource.plural, (meta.get("namespace", ""), meta["name"]))
        self._after(resource.plural, entry.obj, None, True)
        return event.entry if event else None

    def _after(self, plural: str, old: Obj | None, new: Obj | None, record: bool) -> None:
        obj = new if new is not None else old
        assert obj is not None
        ns = obj["metadata"].get("namespace", "")
        if plural == "services":
            name = obj["metadata"]["name"]
            previous = self._selectors[ns].pop(name, None)
            if previous:
                self._by_term[(ns, *min(previous.items()))].discard(name)
            selector = selector_of(new) if new is not None else {}
            if selector:
                self._selectors[ns][name] = selector
                self._by_term[(ns, *min(selector.items()))].add(name)
            self.reconcile(ns, name, record=record)
        elif plural == "pods":
            self._index_pod(old, remove=True)
            self._index_pod(new, remove=False)
            for name in sorted(self._services_of(ns, old) | self._services_of(ns, new)):
                self.reconcile(ns, name, record=record)
        elif plural == "endpointslices" and new is None:
            labels = obj["metadata"].get("labels") or {}
            if labels.get(MANAGED_BY) == CONTROLLER and SERVICE_NAME in labels:
                self._managed[(ns, labels[SERVICE_NAME])].discard(obj["metadata"]["name"])
                self.reconcile(ns, labels[SERVICE_NAME], record=record)

    def _services_of(self, ns: str, pod: Obj | None) -> set[str]:
        if pod is None:
            return set()
        found = set()
        selectors = self._selectors.get(ns, {})
        for label, value in (pod["metadata"].get("labels") or {}).items():
            for name in self._by_term.get((ns, label, value), ()):
                if selects(selectors[name], pod):
                    found.add(name)
        return found

    def _index_pod(self, pod: Obj | None, *, remove: bool) -> None:
        if pod is None:
            return
        meta = pod["metadata"]
        for label, value in (meta.get("labels") or {}).items():
            names = self._postings[(meta.get("namespace", ""), label, value)]
            if remove:
                names.discard(meta["name"])
            else:
                names.add(meta["name"])

    def selected_pods(self, namespace: str, selector: dict[str, str]) -> list[Obj]:
        """The pods of a namespace a map selector selects."""
        sets = [self._postings.get((namespace, k, v), set()) for k, v in selector.items()]
        if not sets:
            return []
        names = set.intersection(*sorted(sets, key=len))
        pods = self.store["pods"].items
        return [pods[(namespace, n)].obj for n in names if (namespace, n) in pods]

    def reconcile(self, namespace: str, service: str, *, record: bool = True) -> None:
        """Bring the derived EndpointSlices of one Service in line with its pods."""
        if self._deferred is not None:
            self._deferred[(namespace, service)] = record
            return
        entry = self.store.get("services", (namespace, service))
        desired: list[Obj] = []
        if entry is not None:
            selector = selector_of(entry.obj)
            desired = desired_slices(entry.obj, self.selected_pods(namespace, selector))
        managed = self._managed[(namespace, service)]
        slices = RESOURCES["endpointslices"]
        names = set()
        for obj in desired:
            name = obj["metadata"]["name"]
            names.add(name)
            old = self.store.get("endpointslices", (namespace, name))
            prepared = self._prepare(slices, obj, old.obj if old else None)
            self.store.put("endpointslices", prepared, record=record)
            managed.add(name)
        for name in sorted(managed - names):
            managed.discard(name)
            if self.store.get("endpointslices", (namespace, name)) is not None:
                self.store.delete("endpointslices", (namespace, name))
        if not managed:
            self._managed.pop((namespace, service), None)
