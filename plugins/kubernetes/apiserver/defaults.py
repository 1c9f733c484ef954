"""Defaulting as the API server does it on create: metadata, ClusterIPs, ipFamilies, pod status."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from kdns.plugins.kubernetes.apiserver.errors import ApiError

Obj = dict[str, Any]
Clock = Callable[[], datetime]

SERVICE_CIDRS = ("10.3.0.0/16", "fd00:10:3::/112")


def clone(value: Any) -> Any:
    """Deep-copy a JSON tree (dicts, lists, scalars) several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, seconds precision, as metadata timestamps are written."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def family(ip: str) -> str:
    """`IPv6` for an address with a colon, else `IPv4`."""
    return "IPv6" if ":" in ip else "IPv4"


class IPAllocator:
    """Hands out ClusterIPs (and node ports) from the service ranges, never one in use."""

    def __init__(self, cidrs: Iterable[str] = SERVICE_CIDRS):
        self.networks = {family(c): ipaddress.ip_network(c, strict=False) for c in cidrs}
        self.used: set[str] = set()
        self._next = dict.fromkeys(self.networks, 10)
        self._node_port = 30000
        self.node_ports: set[int] = set()

    def take(self, ip: str) -> None:
        """Mark an address given in a manifest as used."""
        self.used.add(ip)

    def allocate(self, fam: str) -> str:
        """The next free address of the family."""
        net = self.networks.get(fam)
        if net is None:
            raise ApiError(422, f"no service range for {fam}")
        while self._next[fam] < net.num_addresses - 1:
            ip = str(net.network_address + self._next[fam])
            self._next[fam] += 1
            if ip not in self.used:
                self.used.add(ip)
                return ip
        raise ApiError(500, f"the {fam} service range {net} is full")

    def node_port(self) -> int:
        """The next free node port."""
        while self._node_port in self.node_ports:
            self._node_port += 1
        self.node_ports.add(self._node_port)
        return self._node_port


def _meta(obj: Obj, old: Obj | None, namespaced: bool, now: str) -> None:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ApiError(422, f"{obj.get('kind', 'object')}: metadata.name: Required value")
    if namespaced:
        meta.setdefault("namespace", "default")
    else:
        meta.pop("namespace", None)
    meta.pop("resourceVersion", None)
    if old is not None:
        meta["uid"] = old["metadata"]["uid"]
        meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
    else:
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now)
    for empty in ("labels", "annotations"):
        if empty in meta and not meta[empty]:
            del meta[empty]


def _service(obj: Obj, old: Obj | None, ips: IPAllocator) -> None:
    spec = obj.setdefault("spec", {})
    kind = spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if kind != "ExternalName":
            port.setdefault("targetPort", port.get("port"))
    spec.setdefault("sessionAffinity", "None")
    obj.setdefault("status", {"loadBalancer": {}})
    if kind == "ExternalName":
        return
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if "nodePort" not in port:
                port["nodePort"] = ips.node_port()
            else:
                ips.node_ports.add(port["nodePort"])
    ips_given = list(spec.get("clusterIPs") or [])
    if not ips_given and spec.get("clusterIP"):
        ips_given = [spec["clusterIP"]]
    if not ips_given and old is not None:
        ips_given = list(old["spec"].get("clusterIPs") or [])
    policy = spec.get("ipFamilyPolicy", "SingleStack")
    families = list(spec.get("ipFamilies") or [])
    if ips_given == ["None"]:
        if not families:
            families = ["IPv4", "IPv6"] if policy == "RequireDualStack" else ["IPv4"]
    else:
        for ip in ips_given:
            ips.take(ip)
        if not families:
            families = [family(ip) for ip in ips_given] or ["IPv4"]
            if policy != "SingleStack" and len(families) == 1:
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        for fam in families[len(ips_given) :]:
            ips_given.append(ips.allocate(fam))
    if len(families) > 1 and policy == "SingleStack":
        policy = "RequireDualStack"
    spec["clusterIP"] = ips_given[0]
    spec["clusterIPs"] = ips_given
    spec["ipFamilies"] = families
    spec["ipFamilyPolicy"] = policy


def pod_ready(pod: Obj) -> bool:
    """The pod's Ready condition (missing: not ready)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _pod(obj: Obj, now: str) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("containers", [])
    for container in spec["containers"]:
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    status = obj.setdefault("status", {})
    if status.get("podIP") and not status.get("podIPs"):
        status["podIPs"] = [{"ip": status["podIP"]}]
    if status.get("podIPs") and not status.get("podIP"):
        status["podIP"] = status["podIPs"][0]["ip"]
    status.setdefault("phase", "Running" if status.get("podIP") else "Pending")
    if status.get("podIP") and "conditions" not in status and status["phase"] == "Running":
        status["conditions"] = [
            {"type": t, "status": "True", "lastTransitionTime": now}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
    if status["phase"] == "Running" and "containerStatuses" not in status:
        ready = pod_ready(obj)
        status["containerStatuses"] = [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": ready,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": obj["metadata"]["creationTimestamp"]}},
            }
            for c in spec["containers"]
        ]
    if status["phase"] == "Running":
        status.setdefault("startTime", obj["metadata"]["creationTimestamp"])


class Defaulter:
    """Applies the server's defaults to an object about to be stored."""

    def __init__(self, clock: Clock, cidrs: Iterable[str] = SERVICE_CIDRS):
        self.clock = clock
        self.ips = IPAllocator(cidrs)

    def prepare(self, kind: str, namespaced: bool, obj: Obj, old: Obj | None) -> Obj:
        """Return a defaulted deep copy of `obj`; `old` is the object it replaces, if any."""
        obj = clone(obj)
        now = timestamp(self.clock())
        _meta(obj, old, namespaced, now)
        if kind == "Service":
            _service(obj, old, self.ips)
        elif kind == "Pod":
            _pod(obj, now)
        elif kind == "Namespace":
            obj["metadata"].setdefault("labels", {})
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
        elif kind == "Deployment":
            obj.setdefault("spec", {}).setdefault("replicas", 1)
        elif kind == "EndpointSlice":
            obj.setdefault("addressType", "IPv4")
            obj.setdefault("endpoints", [])
        return obj
