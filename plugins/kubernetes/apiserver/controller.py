"""EndpointSlices derived from Services and Pods, by the rules of the real EndpointSlice controller.

One slice per Service per address family (more when pods resolve the ports differently, or past
100 endpoints), named `<service>-<5 chars>` stably; an endpoint per selected pod that has an IP
of the family and is not in a terminal phase; `ready = publishNotReadyAddresses || (pod ready &&
not terminating)`; hostname when `spec.hostname` is set and `spec.subdomain` is the service name;
ports are the Service's with `targetPort` resolved against the pod's container ports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from kdns.plugins.kubernetes.apiserver.defaults import family, pod_ready

Obj = dict[str, Any]

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
HEADLESS = "service.kubernetes.io/headless"
MAX_ENDPOINTS = 100
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand's alphabet


def selector_of(service: Obj) -> dict[str, str]:
    """The Service's selector; empty when it has none (then no slices are derived)."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return {}
    return dict(spec.get("selector") or {})


def selects(selector: dict[str, str], pod: Obj) -> bool:
    """Tell whether a (non-empty) map selector selects a pod."""
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_ips(pod: Obj, fam: str) -> list[str]:
    status = pod.get("status") or {}
    ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return [ip for ip in ips if family(ip) == fam][:1]


def _resolve(port: Obj, pod: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target and cport.get("protocol", "TCP") == protocol:
                return int(cport["containerPort"])
    return None  # the controller leaves out a port it cannot resolve


def _ports(service: Obj, pod: Obj) -> list[Obj]:
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        number = _resolve(port, pod)
        if number is None:
            continue
        out: Obj = {"name": port.get("name", ""), "protocol": port.get("protocol", "TCP")}
        out["port"] = number
        if "appProtocol" in port:
            out["appProtocol"] = port["appProtocol"]
        ports.append(out)
    return ports


def endpoint(service: Obj, pod: Obj, ip: str) -> Obj:
    """The endpoint the controller writes for one pod address."""
    meta = pod["metadata"]
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    terminating = meta.get("deletionTimestamp") is not None
    serving = publish or pod_ready(pod)
    ep: Obj = {
        "addresses": [ip],
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": serving,
            "terminating": terminating,
        },
    }
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
        ep["hostname"] = spec["hostname"]
    ep["targetRef"] = {
        "kind": "Pod",
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "uid": meta.get("uid", ""),
    }
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    return ep


def in_endpoints(pod: Obj) -> bool:
    """The controller's ShouldPodBeInEndpoints with terminating pods included."""
    status = pod.get("status") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return status.get("phase") not in ("Succeeded", "Failed")


def _name(service: Obj, *parts: object) -> str:
    meta = service["metadata"]
    digest = hashlib.sha256(repr((meta.get("namespace"), meta["name"], parts)).encode()).digest()
    suffix = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:5])
    return f"{meta['name'][:58]}-{suffix}"


def _slice(
    service: Obj, fam: str, ports: list[Obj] | None, endpoints: list[Obj] | None, name: str
) -> Obj:
    meta = service["metadata"]
    labels = {
        k: v for k, v in (meta.get("labels") or {}).items() if k not in (SERVICE_NAME, MANAGED_BY)
    }
    labels[SERVICE_NAME] = meta["name"]
    labels[MANAGED_BY] = CONTROLLER
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS] = ""
    return {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace", "default"),
            "generateName": meta["name"][:58] + "-",
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "name": meta["name"],
                    "uid": meta.get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "addressType": fam,
        "endpoints": endpoints,
        "ports": ports,
    }


def desired_slices(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The slices the controller keeps for `service` given the pods it selects.

    Returns [] for a Service without selector (its slices are written by hand). A Service that
    selects no usable pod gets one placeholder slice per family, with null endpoints and ports,
    as the real controller writes it.
    """
    selector = selector_of(service)
    if not selector:
        return []
    families = (service.get("spec") or {}).get("ipFamilies") or ["IPv4"]
    chosen = sorted(
        (p for p in pods if selects(selector, p) and in_endpoints(p)),
        key=lambda p: str(p["metadata"]["name"]),
    )
    slices: list[Obj] = []
    for fam in families:
        groups: dict[str, tuple[list[Obj], list[Obj]]] = {}
        for pod in chosen:
            for ip in _pod_ips(pod, fam):
                ports = _ports(service, pod)
                sig = repr(ports)
                groups.setdefault(sig, (ports, []))[1].append(endpoint(service, pod, ip))
        if not groups:
            slices.append(_slice(service, fam, None, None, _name(service, fam)))
            continue
        first = True
        for sig, (ports, eps) in sorted(groups.items()):
            for start in range(0, len(eps), MAX_ENDPOINTS):
                chunk = eps[start : start + MAX_ENDPOINTS]
                # The first slice of a family keeps the placeholder's name, so filling an
                # empty service modifies its slice instead of replacing it.
                name = _name(service, fam) if first else _name(service, fam, sig, start)
                first = False
                slices.append(_slice(service, fam, ports or None, chunk, name))
    return slices
