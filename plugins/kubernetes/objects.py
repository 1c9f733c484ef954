"""The compact objects the kubernetes plugin keeps: only what DNS needs from the API.

This module is the contract between the watch side (controller.py: API JSON in, these objects
out) and the answer side (index.py, records.py: these objects in, DNS answers out). Objects are
frozen and small; the client's model objects are never kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal[
    "Service", "EndpointSlice", "Pod", "Namespace", "ServiceImport", "MultiClusterEndpointSlice"
]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]
ServiceKind = Literal["ClusterIP", "Headless", "ExternalName"]
ImportKind = Literal["ClusterSetIP", "Headless"]


@dataclass(frozen=True, slots=True)
class Port:
    """A Service port or an EndpointSlice port (name may be empty; protocol upper case)."""

    name: str
    protocol: str
    port: int


@dataclass(frozen=True, slots=True)
class Service:
    """A Service as DNS sees it.

    `kind` is Headless for `clusterIP: None`, ExternalName for that type, else ClusterIP
    (ClusterIP, NodePort, LoadBalancer). `cluster_ips` is `spec.clusterIPs` (falling back to
    `spec.clusterIP`), canonical text, empty for headless and ExternalName services.
    `external_ips` is `spec.externalIPs` then each `status.loadBalancer.ingress` IP (or its
    hostname when it has no IP), as CoreDNS keeps them for *k8s_external*.
    """

    namespace: str
    name: str
    kind: ServiceKind
    cluster_ips: tuple[str, ...] = ()
    external_name: str = ""
    ports: tuple[Port, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    external_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of an EndpointSlice.

    `ready` is `conditions.ready` with unset read as True (CoreDNS's rule). `pod_name` is the
    `targetRef` name when it refers to a Pod, else "".
    """

    addresses: tuple[str, ...]
    ready: bool = True
    hostname: str = ""
    pod_name: str = ""
    node_name: str = ""
    zone: str = ""


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice (discovery.k8s.io/v1) tied to its Service by the service-name label."""

    namespace: str
    name: str
    #: The `kubernetes.io/service-name` label; "" when absent (then DNS ignores the slice).
    service: str
    address_type: Literal["IPv4", "IPv6", "FQDN"]
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True, slots=True)
class Pod:
    """A running pod: its primary IP (`status.podIP`) is what `pods verified` checks."""

    namespace: str
    name: str
    ip: str


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace that exists (and passes `namespace_labels`, if set)."""

    name: str


@dataclass(frozen=True, slots=True)
class ServiceImport:
    """A multicluster.x-k8s.io/v1alpha1 ServiceImport: a Service of the clusterset.

    `kind` is `spec.type` (anything but Headless reads as ClusterSetIP); `ips` is `spec.ips`,
    canonical text; `ports` is `spec.ports`.
    """

    namespace: str
    name: str
    kind: ImportKind
    ips: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True, slots=True)
class MultiClusterSlice:
    """An EndpointSlice of a ServiceImport: labelled `multicluster.kubernetes.io/service-name`.

    `cluster` is its `multicluster.kubernetes.io/source-cluster` label ("" when absent), the
    cluster id in its endpoint names `<hostname>.<cluster>.<service>.<ns>.svc.<zone>`.
    """

    namespace: str
    name: str
    service: str
    cluster: str
    address_type: Literal["IPv4", "IPv6", "FQDN"]
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[Port, ...] = ()


KubeObject = Service | EndpointSlice | Pod | Namespace | ServiceImport | MultiClusterSlice


class Sink(Protocol):
    """Where the watch side delivers objects (the index implements it).

    `replace` hands over a complete, consistent list of one kind (initial list and every
    re-list) and must swap it in atomically, so no name vanishes in between; `apply` hands over
    one watch event. `mark_synced` says every kind the plugin watches has been listed once.
    """

    def replace(self, kind: Kind, objects: list[KubeObject]) -> None:
        """Swap in the complete set of objects of `kind`."""
        ...

    def apply(self, kind: Kind, event: EventType, obj: KubeObject) -> None:
        """Apply one watch event for one object."""
        ...

    def mark_synced(self) -> None:
        """Record that the first full list of every watched kind has arrived."""
        ...
