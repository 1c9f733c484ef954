"""Made-up clusters and bursts of changes for fault runs against the project's API server.

    objects = cluster(services=200)               # Namespaces, Services, EndpointSlices
    churn = Churn(seed=1, first=BURST_FIRST)      # addresses apart from cluster()'s
    api.burst(churn.changes(10_000))              # creates, updates, deletes, in one go

Every Service gets its own ClusterIP (10.100.0.0/16) and every endpoint its own address
(10.244.0.0/16, a few fd00:10:244::/64), so each reverse name has one owner and
kdns.runtime.apicheck can predict every answer. The API server must serve 10.96.0.0/12.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

Obj = dict[str, Any]
Change = Obj | tuple[str, str, str]
SERVICE_CIDRS = ("10.96.0.0/12", "fd00:10:96::/112")
#: Where a burst's addresses start, apart from those of `cluster()` (up to 20,000 Services).
BURST_FIRST = 20_000
_SVC_BASE = int(ipaddress.ip_address("10.100.0.0"))
_EP_BASE = int(ipaddress.ip_address("10.244.0.0"))
_EP6_BASE = int(ipaddress.ip_address("fd00:10:244::"))
PORTS = [
    {"name": "http", "port": 80, "protocol": "TCP"},
    {"name": "dns", "port": 53, "protocol": "UDP"},
]


def namespace(name: str) -> Obj:
    """A Namespace."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service(ns: str, name: str, cluster_ip: str, ports: list[Obj] | None = None) -> Obj:
    """A selector-less Service (`cluster_ip` "None": headless)."""
    spec: Obj = {"clusterIP": cluster_ip, "ports": PORTS if ports is None else ports}
    meta = {"name": name, "namespace": ns}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def endpoint_slice(
    ns: str, name: str, svc: str, endpoints: list[tuple[str, str, bool]], ports: list[Obj]
) -> Obj:
    """A hand-made EndpointSlice of `svc`: endpoints as (address, hostname, ready)."""
    family = "IPv6" if endpoints and ":" in endpoints[0][0] else "IPv4"
    items = []
    for ip, hostname, ready in endpoints:
        item: Obj = {"addresses": [ip], "conditions": {"ready": ready}}
        if hostname:
            item["hostname"] = hostname
        items.append(item)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "addressType": family,
        "endpoints": items,
        "ports": [dict(p) for p in ports],
    }


class Churn:
    """Makes Services with their EndpointSlices, and changes to them, deterministically."""

    def __init__(self, seed: int = 0, ns: str = "burst", first: int = 0) -> None:
        self.rng = random.Random(seed)
        self.ns = ns
        self.made = 0
        #: Addresses are numbered from `first` on: give two churns apart ranges.
        self._ips = self._eps = first
        #: name -> ClusterIP ("None" for headless) of the Services this churn made and kept.
        self.alive: dict[str, str] = {}

    def _service_ip(self) -> str:
        self._ips += 1
        return str(ipaddress.ip_address(_SVC_BASE + self._ips))

    def _endpoints(self, count: int) -> list[tuple[str, str, bool]]:
        out = []
        six = self.rng.random() < 0.1
        for i in range(count):
            self._eps += 1
            base = _EP6_BASE if six else _EP_BASE
            ip = str(ipaddress.ip_address(base + self._eps))
            hostname = f"host-{i}" if self.rng.random() < 0.5 else ""
            out.append((ip, hostname, self.rng.random() < 0.85))
        return out

    def _slice(self, name: str, ports: list[Obj] = PORTS) -> Obj:
        eps = self._endpoints(self.rng.randint(1, 4))
        return endpoint_slice(self.ns, f"{name}-a", name, eps, ports)

    def create(self) -> list[Change]:
        """A new Service (ClusterIP or headless, 3 to 1) and its slice."""
        self.made += 1
        name = f"s{self.made}"
        ip = "None" if self.rng.random() < 0.25 else self._service_ip()
        self.alive[name] = ip
        return [service(self.ns, name, ip), self._slice(name)]

    def update(self) -> list[Change]:
        """New endpoints for a Service, or its ports renamed."""
        name = self.rng.choice(sorted(self.alive))
        if self.rng.random() < 0.7:
            return [self._slice(name)]
        ports = [{"name": f"p{self.rng.randint(0, 9)}", "port": 8080, "protocol": "TCP"}]
        return [service(self.ns, name, self.alive[name], ports), self._slice(name, ports)]

    def delete(self) -> list[Change]:
        """A Service deleted with its slice, or only its slice (it stays, without endpoints)."""
        name = self.rng.choice(sorted(self.alive))
        gone: list[Change] = [("endpointslices", self.ns, f"{name}-a")]
        if self.rng.random() < 0.8:
            del self.alive[name]
            gone.append(("services", self.ns, name))
        return gone

    def changes(self, count: int) -> list[Change]:
        """`count` changes: about 45% creates, 30% updates, 25% deletes of Services and
        EndpointSlices (each object written or deleted is one change)."""
        out: list[Change] = [namespace(self.ns)] if not self.made else []
        while len(out) < count:
            roll = self.rng.random()
            if len(self.alive) < 5 or roll < 0.45:
                out += self.create()
            elif roll < 0.75:
                out += self.update()
            else:
                out += self.delete()
        return out[:count]


def cluster(services: int, namespaces: int = 4, seed: int = 0) -> list[Obj]:
    """A made-up cluster: `services` Services with slices over a few namespaces."""
    out: list[Obj] = []
    per = max(1, services // namespaces)
    churn = Churn(seed, first=0)
    made = 0
    for n in range(namespaces):
        churn.ns = f"team{n}"
        out.append(namespace(churn.ns))
        for _ in range(per if n < namespaces - 1 else services - made):
            out += [c for c in churn.create() if isinstance(c, dict)]
            made += 1
    return out
