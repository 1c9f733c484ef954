"""The in-memory cluster index the answers are computed from (the watch side's Sink).

It keeps the compact objects of objects.py by key plus the lookups DNS needs: a Service's
EndpointSlices by the `kubernetes.io/service-name` label, the namespaces that exist, pods by
IP (for `pods verified` and autopath), and Services by ClusterIP and
EndpointSlices by ready endpoint IP for PTR and NS answers. It also keeps the SOA serial: the
Unix time of the last change that altered DNS data (a Service's type, IPs, external IPs, ports
or external name; a slice's ready addresses, names or ports; a pod's IP), as CoreDNS's
controller does. ServiceImports and their EndpointSlices (`multicluster`) live apart in
`imports` (multicluster.py), with a serial of their own for the multicluster zones.

All methods must be called from the event loop's thread (a watch running in a thread hands
its events over with `call_soon_threadsafe`): readers never lock, and every method runs to
completion without awaiting, so a query never sees half of a change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from kdns.plugins.kubernetes.multicluster import Imports
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
)
from kdns.plugins.kubernetes.scopes import ALL, PODS, Scope, service_scope

Key = tuple[str, str]
T = TypeVar("T")


class IpMap:
    """IP -> keys of the objects that have it, in arrival order.

    Nearly every IP has one owner, so a lone key is kept bare, with no container around it: at
    5,000 nodes (75,000 endpoints, 150,000 pods) a dict per IP cost 30 MB, a 1-tuple 11 MB.
    """

    __slots__ = ("_many", "_one")

    def __init__(self) -> None:
        self._one: dict[str, Key] = {}
        #: IPs with two or more owners (an IP is in `_one` or here, never both).
        self._many: dict[str, tuple[Key, ...]] = {}

    def get(self, ip: str, default: tuple[Key, ...] = ()) -> tuple[Key, ...]:
        """Return the keys that have `ip`, oldest first (`default` when none)."""
        key = self._one.get(ip)
        return (key,) if key is not None else self._many.get(ip, default)

    def add(self, ip: str, key: Key) -> None:
        """Record that `key` has `ip` (once)."""
        one = self._one.get(ip)
        if one is not None:
            if one != key:
                del self._one[ip]
                self._many[ip] = (one, key)
            return
        keys = self._many.get(ip)
        if keys is None:
            self._one[ip] = key
        elif key not in keys:
            self._many[ip] = (*keys, key)

    def remove(self, ip: str, key: Key) -> None:
        """Forget that `key` has `ip`."""
        if self._one.get(ip) == key:
            del self._one[ip]
            return
        keys = self._many.get(ip, ())
        if key in keys:
            rest = tuple(k for k in keys if k != key)
            if len(rest) > 1:
                self._many[ip] = rest
            else:
                del self._many[ip]
                self._one[ip] = rest[0]


def _dns_slice(s: EndpointSlice) -> bool:
    """Tell whether DNS reads this slice: it names its Service and holds IP addresses."""
    return bool(s.service) and s.address_type != "FQDN"


def ready_ips(s: EndpointSlice) -> Iterable[str]:
    """Yield the addresses of the ready endpoints of a slice."""
    for ep in s.endpoints:
        if ep.ready:
            yield from ep.addresses


def _service_view(s: Service) -> object:
    return (s.kind, s.cluster_ips, s.external_name, s.ports, s.external_ips)


def _slice_view(s: EndpointSlice) -> object:
    ready = tuple((e.addresses, e.hostname, e.pod_name) for e in s.endpoints if e.ready)
    return (s.service, s.address_type, ready, s.ports)


def _pod_view(p: Pod) -> object:
    return p.ip


class Index:
    """The cluster as DNS sees it; implements the `Sink` protocol of objects.py."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.services: dict[Key, Service] = {}
        self.slices: dict[Key, EndpointSlice] = {}
        self.pods: dict[Key, Pod] = {}
        self.namespaces: set[str] = set()
        #: (namespace, service name) -> slice name -> slice.
        self._by_service: dict[Key, dict[str, EndpointSlice]] = {}
        #: ClusterIP -> keys of the Services that have it.
        self._cluster_ips = IpMap()
        #: Ready endpoint IP -> keys of the slices that hold it.
        self._endpoint_ips = IpMap()
        #: Pod IP -> keys of the pods that have it (autopath finds a client's namespace).
        self._pods_by_ip = IpMap()
        self._modified = 0
        #: ServiceImports and their slices (`multicluster`), with their own SOA serial.
        self.imports = Imports()
        self._mc_modified = 0
        #: Whether every watched kind has been listed once (a plain field, not a property:
        #: the fast path reads it per first query).
        self.synced = False
        self._on_synced: list[Callable[[], None]] = []
        #: Counts every change (namespaces included), for caches of precomputed answers.
        self.changes = 0
        #: Called with the Scope of every change that alters answers (answers.py listens).
        self.listeners: list[Callable[[Scope], None]] = []

    # -- state ---------------------------------------------------------------------------------

    @property
    def serial(self) -> int:
        """Return the SOA serial: the last DNS-relevant change, Unix seconds in 32 bits."""
        return self._modified & 0xFFFFFFFF

    def serial_for(self, multicluster: bool) -> int:
        """Return the SOA serial of a cluster zone, or of a multicluster zone (its own clock)."""
        return (self._mc_modified if multicluster else self._modified) & 0xFFFFFFFF

    def when_synced(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the index is synced (at once if it already is)."""
        if self.synced:
            callback()
        else:
            self._on_synced.append(callback)

    def _touch(self, relevant: bool, *scopes: Scope) -> None:
        """Count a change; `relevant` moves the SOA serial; `scopes` are the answers it alters."""
        self.changes += 1
        if relevant:
            self._modified = int(self._clock())
        for scope in scopes:
            for listener in self.listeners:
                listener(scope)

    def _touch_imports(self, relevant: bool, *scopes: Scope) -> None:
        """Count a change of the clusterset data; `relevant` moves the multicluster serial."""
        if relevant:
            self._mc_modified = int(self._clock())
        self._touch(False, *scopes)

    # -- lookups -------------------------------------------------------------------------------

    def service(self, namespace: str, name: str) -> Service | None:
        """Return the Service `name` in `namespace`, if any."""
        return self.services.get((namespace, name))

    def slices_of(self, namespace: str, service: str) -> Iterable[EndpointSlice]:
        """Return the EndpointSlices labelled with the Service's name, in arrival order."""
        found = self._by_service.get((namespace, service))
        return found.values() if found else ()

    def has_namespace(self, name: str) -> bool:
        """Tell whether the namespace exists (and passed `namespace_labels`, if set)."""
        return name in self.namespaces

    def services_with_ip(self, ip: str) -> list[Service]:
        """Return the Services that have `ip` (canonical text) among their ClusterIPs."""
        return [self.services[k] for k in self._cluster_ips.get(ip, ())]

    def slices_with_ip(self, ip: str) -> list[EndpointSlice]:
        """Return the EndpointSlices with a ready endpoint at `ip` (canonical text)."""
        return [self.slices[k] for k in self._endpoint_ips.get(ip, ())]

    def pods_with_ip(self, namespace: str, ip: str) -> int:
        """Return how many pods of `namespace` have exactly `ip` as `status.podIP`."""
        return sum(1 for key in self._pods_by_ip.get(ip, ()) if key[0] == namespace)

    def pod_at(self, ip: str) -> Pod | None:
        """Return the first pod seen with `ip` (canonical text) as `status.podIP`, if any."""
        for key in self._pods_by_ip.get(ip, ()):
            return self.pods[key]
        return None

    def known(self, obj: KubeObject) -> KubeObject:
        """Return the equal object the index holds under obj's key, else `obj` itself.

        The one method a watch thread may call (it reads one dict entry): a re-list hands the
        held copy of each unchanged object on, so the new copy is dropped at once and the
        re-list never holds the cluster twice.
        """
        held: KubeObject | None = None
        if isinstance(obj, Pod):
            held = self.pods.get((obj.namespace, obj.name))
        elif isinstance(obj, EndpointSlice):
            held = self.slices.get((obj.namespace, obj.name))
        elif isinstance(obj, Service):
            held = self.services.get((obj.namespace, obj.name))
        elif isinstance(obj, ServiceImport):
            held = self.imports.imports.get((obj.namespace, obj.name))
        elif isinstance(obj, MultiClusterSlice):
            held = self.imports.slices.get((obj.namespace, obj.name))
        return held if held is not None and held == obj else obj

    # -- Sink ----------------------------------------------------------------------------------

    def replace(self, kind: Kind, objects: list[KubeObject]) -> None:
        """Swap in the complete set of objects of `kind` (a list or a re-list)."""
        if kind == "Namespace":
            names = {o.name for o in objects if isinstance(o, Namespace)}
            if names != self.namespaces:
                self.namespaces = names
                self._touch(False, ALL)
            return
        if kind == "Service":
            services = {(o.namespace, o.name): o for o in objects if isinstance(o, Service)}
            relevant = self._differs(self.services, services, _service_view)
            cluster_ips = IpMap()
            for key, svc in services.items():
                for ip in svc.cluster_ips:
                    cluster_ips.add(ip, key)
            self.services, self._cluster_ips = services, cluster_ips
        elif kind == "EndpointSlice":
            slices = {(o.namespace, o.name): o for o in objects if isinstance(o, EndpointSlice)}
            relevant = self._differs(self.slices, slices, _slice_view)
            by_service: dict[Key, dict[str, EndpointSlice]] = {}
            endpoint_ips = IpMap()
            for key, s in slices.items():
                if _dns_slice(s):
                    by_service.setdefault((s.namespace, s.service), {})[s.name] = s
                    for ip in ready_ips(s):
                        endpoint_ips.add(ip, key)
            self.slices, self._by_service, self._endpoint_ips = slices, by_service, endpoint_ips
        elif kind == "Pod":
            pods = {(o.namespace, o.name): o for o in objects if isinstance(o, Pod)}
            relevant = self._differs(self.pods, pods, _pod_view)
            by_ip = IpMap()
            for key, p in pods.items():
                if p.ip:
                    by_ip.add(p.ip, key)
            self.pods, self._pods_by_ip = pods, by_ip
        elif kind == "ServiceImport":
            if self.imports.replace_imports(objects):
                self._touch_imports(True, ALL)
            return
        elif kind == "MultiClusterEndpointSlice":
            if self.imports.replace_slices(objects):
                self._touch_imports(True, ALL)
            return
        else:
            return
        if relevant:
            self._touch(True, ALL)

    def apply(self, kind: Kind, event: EventType, obj: KubeObject) -> None:
        """Apply one watch event for one object."""
        if isinstance(obj, Namespace):
            present = obj.name in self.namespaces
            if event == "DELETED" and present:
                self.namespaces.discard(obj.name)
                self._touch(False, ALL)
            elif event != "DELETED" and not present:
                self.namespaces.add(obj.name)
                self._touch(False, ALL)
        elif isinstance(obj, Service):
            self._apply_service(event, obj)
        elif isinstance(obj, EndpointSlice):
            self._apply_slice(event, obj)
        elif isinstance(obj, Pod):
            self._apply_pod(event, obj)
        elif isinstance(obj, ServiceImport | MultiClusterSlice):
            if isinstance(obj, ServiceImport):
                altered = self.imports.apply_import(event, obj)
            else:
                altered = self.imports.apply_slice(event, obj)
            self._touch_imports(bool(altered), *(service_scope(*key) for key in altered))

    def mark_synced(self) -> None:
        """Record that every watched kind has been listed once; wake those waiting for it."""
        if self.synced:
            return
        self.synced = True
        waiting, self._on_synced = self._on_synced, []
        for callback in waiting:
            callback()

    # -- internals -----------------------------------------------------------------------------

    @staticmethod
    def _differs(old: dict[Key, T], new: dict[Key, T], view: Callable[[T], object]) -> bool:
        if old.keys() != new.keys():
            return True
        return any(old[k] is not v and view(old[k]) != view(v) for k, v in new.items())

    def _apply_service(self, event: EventType, svc: Service) -> None:
        key = (svc.namespace, svc.name)
        old = self.services.pop(key, None)
        if old is not None:
            for ip in old.cluster_ips:
                self._cluster_ips.remove(ip, key)
        if event != "DELETED":
            self.services[key] = svc
            for ip in svc.cluster_ips:
                self._cluster_ips.add(ip, key)
        elif old is None:
            return
        changed = old is None or event == "DELETED" or _service_view(old) != _service_view(svc)
        self._touch(changed, *((service_scope(*key),) if changed else ()))

    def _apply_slice(self, event: EventType, s: EndpointSlice) -> None:
        key = (s.namespace, s.name)
        old = self.slices.pop(key, None)
        if old is not None and _dns_slice(old):
            group = self._by_service.get((old.namespace, old.service))
            if group is not None:
                group.pop(old.name, None)
                if not group:
                    del self._by_service[(old.namespace, old.service)]
            for ip in ready_ips(old):
                self._endpoint_ips.remove(ip, key)
        if event != "DELETED":
            self.slices[key] = s
            if _dns_slice(s):
                self._by_service.setdefault((s.namespace, s.service), {})[s.name] = s
                for ip in ready_ips(s):
                    self._endpoint_ips.add(ip, key)
        elif old is None:
            return
        owners = {(x.namespace, x.service) for x in (old, s) if x is not None and _dns_slice(x)}
        # a slice of no Service (no service-name label) changes no name: the serial stays
        changed = bool(owners) and (
            old is None or event == "DELETED" or _slice_view(old) != _slice_view(s)
        )
        self._touch(changed, *(service_scope(*o) for o in sorted(owners) if changed))

    def _apply_pod(self, event: EventType, pod: Pod) -> None:
        key = (pod.namespace, pod.name)
        old = self.pods.pop(key, None)
        if old is not None and old.ip:
            self._pods_by_ip.remove(old.ip, key)
        if event != "DELETED":
            self.pods[key] = pod
            if pod.ip:
                self._pods_by_ip.add(pod.ip, key)
        elif old is None:
            return
        changed = old is None or event == "DELETED" or old.ip != pod.ip
        self._touch(changed, *((PODS,) if changed else ()))
