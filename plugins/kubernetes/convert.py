"""API JSON (as the Kubernetes API sends it) to the compact objects DNS keeps.

Pure functions over parsed JSON dictionaries: the client's model objects are never built. Each
function reads only the fields objects.py documents and canonicalises IP addresses, so the
answer side can compare them as text.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping
from typing import Any, Literal

from kdns.plugins.kubernetes.objects import (
    Endpoint,
    EndpointSlice,
    MultiClusterSlice,
    Namespace,
    Pod,
    Port,
    Service,
    ServiceImport,
)

Json = Mapping[str, Any]

#: The label that ties an EndpointSlice to its Service.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
#: The label that ties an EndpointSlice to its ServiceImport (sigs.k8s.io/mcs-api).
MCS_SERVICE_NAME_LABEL = "multicluster.kubernetes.io/service-name"
#: The label naming the cluster an MCS EndpointSlice comes from.
MCS_SOURCE_CLUSTER_LABEL = "multicluster.kubernetes.io/source-cluster"
#: The annotation the EndpointSlice controller stamps with the time of the triggering change.
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"

#: Distinct port lists shared between objects (bounded: past it, lists are simply not shared).
_PORTS: dict[tuple[Port, ...], tuple[Port, ...]] = {}
_PORTS_KEPT = 4096

_ADDRESS_TYPES: dict[str, Literal["IPv4", "IPv6", "FQDN"]] = {
    "IPv4": "IPv4",
    "IPv6": "IPv6",
    "FQDN": "FQDN",
}


def _dict(value: object) -> Json:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def canonical_ip(text: str) -> str | None:
    """Return `text` as canonical IP text (`fd00::1`, `10.0.0.1`), or None if it is not an IP."""
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return None


def metadata(obj: Json) -> tuple[str, str]:
    """Return an object's (namespace, name); namespace is "" for cluster-scoped objects."""
    meta = _dict(obj.get("metadata"))
    return sys.intern(_str(meta.get("namespace"))), _str(meta.get("name"))


def resource_version(obj: Json) -> str:
    """Return an object's `metadata.resourceVersion` ("" when absent)."""
    return _str(_dict(obj.get("metadata")).get("resourceVersion"))


def _labels(obj: Json) -> dict[str, str]:
    labels = _dict(_dict(obj.get("metadata")).get("labels"))
    return {sys.intern(str(k)): str(v) for k, v in labels.items()}


def _ports(items: object) -> tuple[Port, ...]:
    ports: list[Port] = []
    for item in _list(items):
        port = _dict(item).get("port")
        if not isinstance(port, int) or isinstance(port, bool):
            continue  # an EndpointSlice port without a number means "all ports": no SRV
        protocol = _str(item.get("protocol")).upper() or "TCP"
        ports.append(Port(_str(item.get("name")), protocol, port))
    return _shared(tuple(ports))


def _shared(ports: tuple[Port, ...]) -> tuple[Port, ...]:
    """Return one shared copy of equal port lists: most Services and slices repeat a few."""
    kept = _PORTS.get(ports)
    if kept is not None:
        return kept
    if len(_PORTS) < _PORTS_KEPT:
        _PORTS[ports] = ports
    return ports


def external_ips(obj: Json) -> tuple[str, ...]:
    """Return `spec.externalIPs` then the load-balancer ingress IPs (hostnames where no IP)."""
    found: list[str] = []
    for text in _list(_dict(obj.get("spec")).get("externalIPs")):
        if isinstance(text, str) and (ip := canonical_ip(text)) is not None:
            found.append(ip)
    balancer = _dict(_dict(obj.get("status")).get("loadBalancer"))
    for item in _list(balancer.get("ingress")):
        ip = canonical_ip(_str(_dict(item).get("ip")))
        host = _str(_dict(item).get("hostname")).strip().lower()
        if ip is not None or host:
            found.append(ip or host)
    return tuple(dict.fromkeys(found))


def service(obj: Json) -> Service:
    """Convert a v1 Service; see `objects.Service` for the kinds and the ClusterIP rules."""
    namespace, name = metadata(obj)
    spec = _dict(obj.get("spec"))
    labels = tuple(sorted(_labels(obj).items()))
    ports = _ports(spec.get("ports"))
    external = external_ips(obj)
    if spec.get("type") == "ExternalName":
        return Service(
            namespace,
            name,
            "ExternalName",
            external_name=_str(spec.get("externalName")),
            ports=ports,
            labels=labels,
            external_ips=external,
        )
    raw = [ip for ip in _list(spec.get("clusterIPs")) if isinstance(ip, str)]
    if not raw:
        raw = [_str(spec.get("clusterIP"))]
    if raw[0] == "None":
        return Service(
            namespace, name, "Headless", ports=ports, labels=labels, external_ips=external
        )
    ips = tuple(dict.fromkeys(ip for ip in map(canonical_ip, raw) if ip is not None))
    return Service(
        namespace,
        name,
        "ClusterIP",
        cluster_ips=ips,
        ports=ports,
        labels=labels,
        external_ips=external,
    )


def _endpoint(item: Json, address_type: str) -> Endpoint | None:
    addresses: list[str] = []
    for text in _list(item.get("addresses")):
        if not isinstance(text, str):
            continue
        if address_type == "FQDN":
            addresses.append(text)
        elif (ip := canonical_ip(text)) is not None:
            addresses.append(ip)
    if not addresses:
        return None
    ready = _dict(item.get("conditions")).get("ready")
    ref = _dict(item.get("targetRef"))
    pod_name = _str(ref.get("name")) if ref.get("kind", "Pod") == "Pod" else ""
    return Endpoint(
        addresses=tuple(addresses),
        ready=ready is not False,  # unset (nil) counts as ready, as CoreDNS reads it
        hostname=_str(item.get("hostname")),
        pod_name=pod_name,
        node_name=sys.intern(_str(item.get("nodeName"))),
        zone=sys.intern(_str(item.get("zone"))),
    )


def endpoint_slice(obj: Json) -> EndpointSlice:
    """Convert a discovery.k8s.io/v1 EndpointSlice (endpoints without an address are dropped)."""
    namespace, name = metadata(obj)
    address_type = _ADDRESS_TYPES.get(_str(obj.get("addressType")), "IPv4")
    endpoints = tuple(
        ep
        for item in _list(obj.get("endpoints"))
        if (ep := _endpoint(_dict(item), address_type)) is not None
    )
    return EndpointSlice(
        namespace,
        name,
        service=_labels(obj).get(SERVICE_NAME_LABEL, ""),
        address_type=address_type,
        endpoints=endpoints,
        ports=_ports(obj.get("ports")),
    )


def service_import(obj: Json) -> ServiceImport:
    """Convert a multicluster.x-k8s.io/v1alpha1 ServiceImport (see `objects.ServiceImport`)."""
    namespace, name = metadata(obj)
    spec = _dict(obj.get("spec"))
    raw = (ip for ip in _list(spec.get("ips")) if isinstance(ip, str))
    ips = tuple(dict.fromkeys(ip for ip in map(canonical_ip, raw) if ip is not None))
    return ServiceImport(
        namespace,
        name,
        "Headless" if spec.get("type") == "Headless" else "ClusterSetIP",
        ips=ips,
        ports=_ports(spec.get("ports")),
    )


def multicluster_slice(obj: Json) -> MultiClusterSlice:
    """Convert an EndpointSlice labelled for a ServiceImport, with its source cluster."""
    local = endpoint_slice(obj)
    labels = _labels(obj)
    return MultiClusterSlice(
        local.namespace,
        local.name,
        service=labels.get(MCS_SERVICE_NAME_LABEL, ""),
        cluster=labels.get(MCS_SOURCE_CLUSTER_LABEL, ""),
        address_type=local.address_type,
        endpoints=local.endpoints,
        ports=local.ports,
    )


def terminating(obj: Json) -> bool:
    """Tell whether an object is being deleted (`metadata.deletionTimestamp` is set)."""
    return bool(_dict(obj.get("metadata")).get("deletionTimestamp"))


def pod(obj: Json) -> Pod | None:
    """Convert a v1 Pod; None when it has no usable `status.podIP` or is terminating.

    A terminating pod keeps its last entry until it is deleted (CoreDNS ignores such updates),
    so the watch side skips a None on ADDED/MODIFIED; use `pod_key` for DELETED events.
    """
    if terminating(obj):
        return None
    ip = canonical_ip(_str(_dict(obj.get("status")).get("podIP")))
    if ip is None:
        return None
    namespace, name = metadata(obj)
    return Pod(namespace, name, ip)


def pod_key(obj: Json) -> Pod:
    """Return the Pod to remove for a DELETED event (its IP may be "" if it never had one)."""
    namespace, name = metadata(obj)
    ip = canonical_ip(_str(_dict(obj.get("status")).get("podIP")))
    return Pod(namespace, name, ip or "")


def namespace(obj: Json) -> Namespace:
    """Convert a v1 Namespace."""
    return Namespace(metadata(obj)[1])


def trigger_time(obj: Json) -> str:
    """Return the EndpointSlice's last-change-trigger-time annotation ("" when absent)."""
    annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
    return _str(annotations.get(TRIGGER_TIME_ANNOTATION))
