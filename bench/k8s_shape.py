"""The 5,000-node scale-test cluster as one JSON `List` manifest, for bench/k8s_scale.py.

The shape is the one CoreDNS's scaling guide measured (kubernetes e2e gce-scale jobs): 5,000
nodes, 150,000 pods, 8,200 services and 75,000 endpoints. Services select their pods by an
`app` label, so the API server derives the EndpointSlices as the real controller does. Half of
the pods back a Service; the rest (jobs, daemons) back none. One Service in ten is headless,
with StatefulSet-style pods (`hostname` + `subdomain`). Pod IPs come from a /24 per node.

    python bench/k8s_shape.py OUT.json [--scale 0.05]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

NODES, PODS, SERVICES, ENDPOINTS = 5000, 150_000, 8200, 75_000
SERVICES_PER_NAMESPACE = 82
IMAGE = "registry.k8s.io/pause:3.9"


@dataclass(frozen=True, slots=True)
class Shape:
    """How many of each object the cluster has."""

    nodes: int
    pods: int
    services: int
    endpoints: int

    @classmethod
    def scaled(cls, scale: float) -> Shape:
        """The 5,000-node shape times `scale` (0.05 for a twentieth)."""
        return cls(
            max(1, round(NODES * scale)),
            max(2, round(PODS * scale)),
            max(1, round(SERVICES * scale)),
            max(1, round(ENDPOINTS * scale)),
        )

    @property
    def namespaces(self) -> int:
        """Namespaces the services are spread over (82 services each, as kube's load test)."""
        return max(1, self.services // SERVICES_PER_NAMESPACE)


def namespace_name(i: int) -> str:
    """The name of namespace number `i`."""
    return f"load-{i:03d}"


def service_name(j: int) -> str:
    """The name of service number `j`."""
    return f"svc-{j:05d}"


def cluster_ip(j: int) -> str:
    """The ClusterIP of service number `j` (inside the API server's 10.3.0.0/16)."""
    n = 10 + j
    return f"10.3.{n // 256}.{n % 256}"


def pod_ip(i: int, nodes: int) -> str:
    """The IP of pod number `i`: pods go round-robin over the nodes, a /24 per node."""
    node, slot = i % nodes, i // nodes
    return f"10.{128 + node // 256}.{node % 256}.{2 + slot % 250}"


def is_headless(j: int) -> bool:
    """Every tenth service is headless."""
    return j % 10 == 9


def _pod(i: int, ns: str, app: str, shape: Shape, subdomain: str = "") -> Obj:
    name = f"{app}-{i:06d}"
    node = i % shape.nodes
    spec: Obj = {
        "nodeName": f"node-{node:05d}",
        "containers": [
            {
                "name": "app",
                "image": IMAGE,
                "ports": [
                    {"name": "http", "containerPort": 8080},
                    {"name": "metrics", "containerPort": 9090},
                ],
                "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}},
            }
        ],
    }
    if subdomain:
        spec["hostname"], spec["subdomain"] = name, subdomain
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app": app, "pod-template-hash": "5d8f7c9b6"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{app}-5d8f7c9b6",
                    "uid": f"00000000-0000-4000-8000-{i:012d}",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
        "status": {"podIP": pod_ip(i, shape.nodes), "hostIP": f"10.0.{node // 256}.{node % 256}"},
    }


def _service(j: int, ns: str) -> Obj:
    name = service_name(j)
    spec: Obj = {
        "selector": {"app": name},
        "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9090, "targetPort": "metrics"},
        ],
        "clusterIP": "None" if is_headless(j) else cluster_ip(j),
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": spec,
    }


def cluster(shape: Shape) -> Obj:
    """The whole cluster as a `List`: namespaces, services, then pods."""
    items: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_name(n)}}
        for n in range(shape.namespaces)
    ]
    per, extra = divmod(shape.endpoints, shape.services)
    pod = 0
    pods: list[Obj] = []
    for j in range(shape.services):
        ns = namespace_name(j % shape.namespaces)
        items.append(_service(j, ns))
        name = service_name(j)
        for _ in range(per + (j < extra)):
            pods.append(_pod(pod, ns, name, shape, name if is_headless(j) else ""))
            pod += 1
    while pod < shape.pods:
        ns = namespace_name(pod % shape.namespaces)
        pods.append(_pod(pod, ns, f"job-{pod % 997:03d}", shape))
        pod += 1
    return {"apiVersion": "v1", "kind": "List", "items": items + pods}


def write(path: Path, shape: Shape) -> None:
    """Write the cluster of `shape` to `path` as compact JSON."""
    path.write_text(json.dumps(cluster(shape), separators=(",", ":")))


def main() -> int:
    """Write the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    shape = Shape.scaled(args.scale)
    write(args.out, shape)
    print(f"{args.out}: {shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
