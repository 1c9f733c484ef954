"""What a name under a k8s_external zone stands for: CoreDNS's kubernetes `External*` calls.

Pure functions over the kubernetes plugin's index and config. A name is
`[endpoint.|_port._proto.]service.namespace.<zone>`; the namespace must be exposed (as for
cluster names), and a Service answers with its external IPs (`spec.externalIPs` and
load-balancer ingress addresses) times its ports, or, with `headless`, a Service without
external IPs that is headless (or asked by endpoint name) answers with its ready endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kdns.plugins.base import NOERROR, NXDOMAIN, chain_from
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.lookup import NO_PORT, Lookup
from kdns.plugins.kubernetes.names import (
    address_from_reverse,
    endpoint_name,
    join,
    parse_ip,
    trim_zone,
)
from kdns.plugins.kubernetes.objects import Port, Service

PTR = 12


@runtime_checkable
class ClusterSource(Protocol):
    """What k8s_external reads from the *kubernetes* plugin of its block (its handler)."""

    index: Index
    config: KubernetesConfig
    #: The server's own non-loopback addresses (for the name server records).
    local_ips: tuple[str, ...]


def find_source(first: object) -> ClusterSource | None:
    """Return the first ClusterSource among `first` and the handlers behind it."""
    return next((h for h in chain_from(first) if isinstance(h, ClusterSource)), None)


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing a name stands for: an address (or a load balancer's host name) and a port.

    `key` is the name the entry is known by (the SRV target of an address); `port` is -1 for
    a Service or slice without ports (addresses, but no SRV).
    """

    host: str
    port: int
    key: str
    #: The port's name and protocol (lower case), for the SRV names of a transfer.
    port_name: str = ""
    protocol: str = ""


def _entry(host: str, p: Port, key: str) -> Entry:
    return Entry(host, p.port, key, p.name.lower(), p.protocol.lower())


def _strip(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def _match(port: str, protocol: str, p: Port) -> bool:
    return (not port or port == p.name.lower()) and (not protocol or protocol == p.protocol.lower())


def reverse(source: ClusterSource, ip: str) -> list[Service]:
    """Return the Services that have `ip` among their external IPs (`namespaces` filters).

    A scan of every Service: such PTR queries are rare (they need a reverse zone among the
    k8s_external zones), so no index is kept for them.
    """
    config = source.config
    lk = Lookup(source.index, config, ".")
    return [
        svc
        for svc in source.index.services.values()
        if ip in svc.external_ips and (not config.namespaces or lk.exposed(svc.namespace))
    ]


def external(
    source: ClusterSource, zone: str, qname: str, qtype: int, headless: bool
) -> tuple[list[Entry], int]:
    """Return the entries of a lower-case name in `zone` and the rcode when there are none.

    A PTR query for a full reverse address answers from the external IPs (entries whose host
    is `service.namespace`); any other PTR query only learns whether its name exists.
    """
    index, config = source.index, source.config
    if qtype == PTR:
        ip = address_from_reverse(qname)
        if ip is not None:
            found = [Entry(f"{s.name}.{s.namespace}", 0, "") for s in reverse(source, ip)]
            return found, NOERROR if found else NXDOMAIN
    base = trim_zone(qname, zone)
    segs = base.split(".") if base else []
    if not segs:
        return [], NOERROR
    lk = Lookup(index, config, zone)
    namespace = segs.pop()
    if not lk.exposed(namespace):
        return [], NXDOMAIN
    if not segs:
        return [], NOERROR
    service = segs.pop()
    endpoint = port = protocol = ""
    if len(segs) == 1:
        endpoint = _strip(segs[0])
    elif len(segs) == 2:
        port, protocol = _strip(segs[0]), _strip(segs[1])
    elif segs:
        return [], NXDOMAIN
    svc = index.service(namespace, service)
    out: list[Entry] = []
    matched = False
    if svc is not None:
        key = join(svc.name, svc.namespace, zone)
        if headless and not svc.external_ips and (svc.kind == "Headless" or endpoint):
            for host, p, name in _endpoints(lk, svc):
                if endpoint and name.lower() != endpoint:
                    continue
                if _match(port, protocol, p):
                    matched = True
                    out.append(_entry(host, p, join(name, key)))
        else:
            for ip in svc.external_ips:
                for p in svc.ports or (NO_PORT,):
                    if _match(port, protocol, p):
                        matched = True
                        out.append(_entry(ip, p, key))
    rcode = NOERROR if matched else NXDOMAIN
    return ([] if qtype == PTR else out), rcode


def _endpoints(lk: Lookup, svc: Service) -> Iterable[tuple[str, Port, str]]:
    """Yield (address, port, endpoint name) for each ready address and slice port."""
    pod_names = lk.config.endpoint_pod_names
    for s in lk.slices(svc):
        for ep in s.endpoints:
            if not ep.ready:
                continue
            for address in ep.addresses:
                name = endpoint_name(address, ep.hostname, ep.pod_name, pod_names)
                for p in s.ports or (NO_PORT,):
                    yield address, p, name


def services(source: ClusterSource, zone: str, headless: bool) -> list[tuple[Service, list[Entry]]]:
    """Return every Service the zone names, with its entries, sorted by name and namespace.

    Services with external IPs come with one entry per IP and port; with `headless`, headless
    Services without external IPs come with one entry per ready address and slice port, keyed
    by endpoint name.
    """
    lk = Lookup(source.index, source.config, zone)
    out: list[tuple[Service, list[Entry]]] = []
    for svc in sorted(source.index.services.values(), key=lambda s: (s.name, s.namespace)):
        if not lk.exposed(svc.namespace):
            continue
        key = join(svc.name, svc.namespace, zone)
        if svc.external_ips:
            ports = svc.ports or (NO_PORT,)
            entries = [_entry(ip, p, key) for ip in svc.external_ips for p in ports]
        elif headless and svc.kind == "Headless":
            entries = [_entry(a, p, join(n, key)) for a, p, n in _endpoints(lk, svc)]
        else:
            continue
        if entries:
            out.append((svc, entries))
    return out


def name_servers(source: ClusterSource, headless: bool) -> list[str]:
    """Return the addresses of this server as seen from outside (CoreDNS's ExternalAddress).

    They are the external IPs of the Services whose endpoints this server is (with
    `headless`, a headless one gives its endpoint addresses), else the server's own addresses.
    """
    index, config = source.index, source.config
    found = False
    out: list[str] = []
    for local in source.local_ips:
        for s in () if config.noendpoints else index.slices_with_ip(local):
            found = True
            svc = index.service(s.namespace, s.service)
            if svc is None:
                continue
            if headless and svc.kind == "Headless":
                out.extend(a for ep in s.endpoints if ep.ready for a in ep.addresses)
            else:
                out.extend(ip for ip in svc.external_ips if parse_ip(ip) is not None)
    if not found:
        out = list(source.local_ips)
    return list(dict.fromkeys(out))
