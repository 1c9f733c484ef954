"""The meta.k8s.io/v1 Table kubectl asks for (`Accept: application/json;as=Table`).

Columns and cells follow kubectl's printers for these kinds (pkg/printers/internalversion).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from kdns.plugins.kubernetes.apiserver.store import dumps

Obj = dict[str, Any]
Row = Callable[[Obj, datetime], list[Any]]


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration, as the AGE column shows it."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(obj: Obj, now: datetime) -> str:
    stamp = obj["metadata"].get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return human_duration((now - created).total_seconds())


def _service(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    external = "<none>"
    if kind == "ExternalName":
        external = spec.get("externalName", "<none>")
    elif kind == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addrs = [i.get("ip") or i.get("hostname") for i in ingress] + spec.get("externalIPs", [])
        external = ",".join(a for a in addrs if a) or "<pending>"
    elif spec.get("externalIPs"):
        external = ",".join(spec["externalIPs"])
    ports = []
    for port in spec.get("ports") or []:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    selector = spec.get("selector") or {}
    return [
        obj["metadata"]["name"],
        kind,
        spec.get("clusterIP") or "<none>",
        external,
        ",".join(ports) or "<none>",
        _age(obj, now),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
    ]


def _pod(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    reason = status.get("reason") or status.get("phase", "Unknown")
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        sum(int(c.get("restartCount", 0)) for c in statuses),
        _age(obj, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def _namespace(obj: Obj, now: datetime) -> list[Any]:
    phase = (obj.get("status") or {}).get("phase", "")
    return [obj["metadata"]["name"], phase, _age(obj, now)]


def _more(values: list[str]) -> str:
    if not values:
        return "<unset>"
    text = ",".join(values[:3])
    return text + (f" + {len(values) - 3} more..." if len(values) > 3 else "")


def _slice(obj: Obj, now: datetime) -> list[Any]:
    ports = [str(p.get("port", "*")) for p in obj.get("ports") or []]
    addrs = [a for ep in obj.get("endpoints") or [] for a in ep.get("addresses") or []]
    return [
        obj["metadata"]["name"],
        obj.get("addressType", ""),
        _more(ports),
        _more(addrs),
        _age(obj, now),
    ]


def _service_import(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    ips = [ip for ip in spec.get("ips") or [] if isinstance(ip, str)]
    return [
        obj["metadata"]["name"],
        spec.get("type", ""),
        ",".join(ips) or "<none>",
        _age(obj, now),
    ]


def _config_map(obj: Obj, now: datetime) -> list[Any]:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [obj["metadata"]["name"], count, _age(obj, now)]


def _service_account(obj: Obj, now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], len(obj.get("secrets") or []), _age(obj, now)]


def _selector(selector: Obj) -> str:
    """metav1.FormatLabelSelector: `k=v,k in (a,b)`, `<none>` when empty."""
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for req in selector.get("matchExpressions") or []:
        op, values = req.get("operator", ""), ",".join(req.get("values") or [])
        if op == "Exists":
            terms.append(req.get("key", ""))
        elif op == "DoesNotExist":
            terms.append("!" + req.get("key", ""))
        else:
            terms.append(f"{req.get('key', '')} {op.lower()} ({values})")
    return ",".join(terms) or "<none>"


def _deployment(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [
        obj["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        _selector(spec.get("selector") or {}),
    ]


def _budget(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    return [
        obj["metadata"]["name"],
        str(spec["minAvailable"]) if "minAvailable" in spec else "N/A",
        str(spec["maxUnavailable"]) if "maxUnavailable" in spec else "N/A",
        (obj.get("status") or {}).get("disruptionsAllowed", 0),
        _age(obj, now),
    ]


def _cluster_role(obj: Obj, now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp", "")]


def _binding(obj: Obj, now: datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []

    def names(kind: str) -> str:
        return ", ".join(s.get("name", "") for s in subjects if s.get("kind") == kind)

    accounts = ", ".join(
        f"{s.get('namespace', '')}/{s.get('name', '')}"
        for s in subjects
        if s.get("kind") == "ServiceAccount"
    )
    return [
        obj["metadata"]["name"],
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj, now),
        names("User"),
        names("Group"),
        accounts,
    ]


def _col(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> Obj:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


_NAME = _col("Name", fmt="name")
_AGE = _col("Age")
COLUMNS: dict[str, tuple[list[Obj], Row]] = {
    "Service": (
        [
            _NAME,
            _col("Type"),
            _col("Cluster-IP"),
            _col("External-IP"),
            _col("Port(s)"),
            _AGE,
            _col("Selector", priority=1),
        ],
        _service,
    ),
    "Pod": (
        [
            _NAME,
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "integer"),
            _AGE,
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ],
        _pod,
    ),
    "Namespace": ([_NAME, _col("Status"), _AGE], _namespace),
    "EndpointSlice": (
        [_NAME, _col("AddressType"), _col("Ports"), _col("Endpoints"), _AGE],
        _slice,
    ),
    # The printer columns of the mcs-api CRD.
    "ServiceImport": ([_NAME, _col("Type"), _col("IP"), _AGE], _service_import),
    "ConfigMap": ([_NAME, _col("Data", "integer"), _AGE], _config_map),
    "ServiceAccount": ([_NAME, _col("Secrets", "integer"), _AGE], _service_account),
    "Deployment": (
        [
            _NAME,
            _col("Ready"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            _AGE,
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _deployment,
    ),
    "PodDisruptionBudget": (
        [
            _NAME,
            _col("Min Available"),
            _col("Max Unavailable"),
            _col("Allowed Disruptions", "integer"),
            _AGE,
        ],
        _budget,
    ),
    "ClusterRole": ([_NAME, _col("Created At", fmt="date")], _cluster_role),
    "ClusterRoleBinding": (
        [
            _NAME,
            _col("Role"),
            _AGE,
            _col("Users", priority=1),
            _col("Groups", priority=1),
            _col("ServiceAccounts", priority=1),
        ],
        _binding,
    ),
}


def _partial(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def table(objs: Iterable[Obj], kind: str, now: datetime, meta: Obj, include: str = "") -> bytes:
    """Serialise objects of one kind as a Table (`include`: Object, None, or metadata)."""
    columns, row = COLUMNS[kind]
    rows = []
    for obj in objs:
        out: Obj = {"cells": row(obj, now)}
        if include == "Object":
            out["object"] = obj
        elif include != "None":
            out["object"] = _partial(obj)
        rows.append(out)
    return dumps(
        {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "columnDefinitions": columns,
            "rows": rows,
        }
    )
