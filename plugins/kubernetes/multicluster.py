"""The clusterset half of the index: ServiceImports and their EndpointSlices (`multicluster`).

Kept apart from the cluster's own Services and slices, so a multicluster zone never sees a
local Service and the cluster zones never see an import. The MCS slices are tied to their
import by the `multicluster.kubernetes.io/service-name` label, as local slices are by
`kubernetes.io/service-name`. Every method returns which imports a change altered (as
(namespace, name) keys), so the Index can count the change, move the multicluster zones' SOA
serial and tell the listeners which names to drop. Called from the event loop thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from kdns.plugins.kubernetes.objects import (
    EventType,
    KubeObject,
    MultiClusterSlice,
    ServiceImport,
)

Key = tuple[str, str]
T = TypeVar("T")


def _import_view(imp: ServiceImport) -> object:
    return (imp.kind, imp.ips, imp.ports)


def _slice_view(s: MultiClusterSlice) -> object:
    ready = tuple((e.addresses, e.hostname, e.pod_name) for e in s.endpoints if e.ready)
    return (s.service, s.cluster, s.address_type, ready, s.ports)


def _served(s: MultiClusterSlice) -> bool:
    """Tell whether DNS reads this slice: it names its import and holds IP addresses."""
    return bool(s.service) and s.address_type != "FQDN"


class Imports:
    """ServiceImports by key and their EndpointSlices by import (see the module doc)."""

    def __init__(self) -> None:
        self.imports: dict[Key, ServiceImport] = {}
        self.slices: dict[Key, MultiClusterSlice] = {}
        #: (namespace, import name) -> slice name -> slice.
        self._by_import: dict[Key, dict[str, MultiClusterSlice]] = {}

    def get(self, namespace: str, name: str) -> ServiceImport | None:
        """Return the ServiceImport `name` in `namespace`, if any."""
        return self.imports.get((namespace, name))

    def slices_of(self, namespace: str, name: str) -> Iterable[MultiClusterSlice]:
        """Return the EndpointSlices of an import, in arrival order."""
        found = self._by_import.get((namespace, name))
        return found.values() if found else ()

    # -- whole lists ---------------------------------------------------------------------------

    def replace_imports(self, objects: Iterable[KubeObject]) -> bool:
        """Swap in every ServiceImport; tell whether DNS data changed."""
        new = {(o.namespace, o.name): o for o in objects if isinstance(o, ServiceImport)}
        old, self.imports = self.imports, new
        return _differs(old, new, _import_view)

    def replace_slices(self, objects: Iterable[KubeObject]) -> bool:
        """Swap in every MCS EndpointSlice; tell whether DNS data changed."""
        new = {(o.namespace, o.name): o for o in objects if isinstance(o, MultiClusterSlice)}
        by_import: dict[Key, dict[str, MultiClusterSlice]] = {}
        for s in new.values():
            if _served(s):
                by_import.setdefault((s.namespace, s.service), {})[s.name] = s
        old, self.slices, self._by_import = self.slices, new, by_import
        return _differs(old, new, _slice_view)

    # -- events --------------------------------------------------------------------------------

    def apply_import(self, event: EventType, imp: ServiceImport) -> list[Key]:
        """Apply one event; return the import it altered ([] when nothing DNS sees changed)."""
        key = (imp.namespace, imp.name)
        old = self.imports.pop(key, None)
        if event != "DELETED":
            self.imports[key] = imp
        if old is None and event == "DELETED":
            return []
        if old is not None and event != "DELETED" and _import_view(old) == _import_view(imp):
            return []
        return [key]

    def apply_slice(self, event: EventType, s: MultiClusterSlice) -> list[Key]:
        """Apply one event; return the imports whose names it altered."""
        key = (s.namespace, s.name)
        old = self.slices.pop(key, None)
        if old is not None and _served(old):
            group = self._by_import.get((old.namespace, old.service))
            if group is not None:
                group.pop(old.name, None)
                if not group:
                    del self._by_import[(old.namespace, old.service)]
        if event != "DELETED":
            self.slices[key] = s
            if _served(s):
                self._by_import.setdefault((s.namespace, s.service), {})[s.name] = s
        if old is None and event == "DELETED":
            return []
        if old is not None and event != "DELETED" and _slice_view(old) == _slice_view(s):
            return []
        owners = {(x.namespace, x.service) for x in (old, s) if x is not None and _served(x)}
        return sorted(owners)


def _differs(old: dict[Key, T], new: dict[Key, T], view: Callable[[T], object]) -> bool:
    if old.keys() != new.keys():
        return True
    return any(old[k] is not v and view(old[k]) != view(v) for k, v in new.items())
