"""The content of a zone transfer of a cluster zone, as CoreDNS's kubernetes plugin streams it.

`zone_transfer` is pure: the index, the config and the zone in, the records out. Order: the
SOA; one NS per name server name (TTL = ttl); the name servers' address records (TTL 0, as
CoreDNS leaves them); then every Service of an exposed namespace, sorted by name:

- ClusterIP (also NodePort, LoadBalancer): an A/AAAA per ClusterIP, and per port a bare SRV
  `<svc>.<ns>.svc.<zone>. SRV 0 100 <port> <svc>...` plus, for named ports, the
  `_<port>._<proto>.<svc>...` SRV;
- headless: per ready address of each EndpointSlice an A/AAAA at the Service name and at the
  endpoint name, and per named slice port an SRV to the endpoint name with weight
  floor(100 / ready addresses of that slice);
- ExternalName: its CNAME;

then the SOA again. A `multicluster` zone transfers its ServiceImports instead, the same way
(ClusterSetIP as ClusterIP with `spec.ips`; headless with the cluster id in endpoint names), and
carries the multicluster SOA serial. Pod names, PTRs, `dns-version` and endpoint names of
ClusterIP Services are not transferred. Only a forward zone of the plugin, asked at its apex,
is transferred (CoreDNS would also stream an odd copy of the zone for a name below the apex).
"""

from __future__ import annotations

import math

import dnslib

from kdns.plugins.kubernetes.config import KubernetesConfig, is_reverse
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.lookup import Lookup
from kdns.plugins.kubernetes.names import SVC, endpoint_name, join, parse_ip
from kdns.plugins.kubernetes.objects import (
    EndpointSlice,
    MultiClusterSlice,
    Port,
    Service,
    ServiceImport,
)
from kdns.plugins.kubernetes.records import address_rr, soa_rr

NS, CNAME, SRV = 2, 5, 33
IN = 1


def _srv(owner: str, weight: int, port: int, target: str, ttl: int) -> dnslib.RR:
    return dnslib.RR(owner, SRV, IN, ttl, dnslib.SRV(0, weight, port, target))


def _ports_srv(name: str, ports: tuple[Port, ...], ttl: int) -> list[dnslib.RR]:
    """Return the SRV records of an address-backed name: a bare one and a named one per port."""
    out: list[dnslib.RR] = []
    for p in ports:
        out.append(_srv(name, 100, p.port, name, ttl))
        if p.name:
            owner = join(f"_{p.name.lower()}", f"_{p.protocol.lower()}", name)
            out.append(_srv(owner, 100, p.port, name, ttl))
    return out


def _endpoints(
    lk: Lookup, name: str, slices: list[tuple[str, EndpointSlice | MultiClusterSlice]]
) -> list[dnslib.RR]:
    """Return the records of headless endpoints: (owner suffix, slice) pairs, by slice name."""
    ttl, pod_names = lk.ttl, lk.config.endpoint_pod_names
    out: list[dnslib.RR] = []
    for owner, s in slices:
        ready = [(a, ep) for ep in s.endpoints if ep.ready for a in ep.addresses]
        if not ready:
            continue
        weight = max(1, math.floor(100 / len(ready)))
        for address, ep in ready:
            target = join(endpoint_name(address, ep.hostname, ep.pod_name, pod_names), owner)
            out.append(address_rr(name, address, ttl))
            out.append(address_rr(target, address, ttl))
            for p in s.ports:
                if p.name:
                    srv_owner = join(f"_{p.name.lower()}", f"_{p.protocol.lower()}", name)
                    out.append(_srv(srv_owner, weight, p.port, target, ttl))
    return out


def _service(lk: Lookup, svc: Service) -> list[dnslib.RR]:
    """Return the transferred records of one Service."""
    ttl = lk.ttl
    name = join(svc.name, svc.namespace, SVC, lk.zone)
    if svc.kind == "ExternalName":
        target = svc.external_name
        if target and parse_ip(target) is None:
            fqdn = target if target.endswith(".") else target + "."
            return [dnslib.RR(name, CNAME, IN, ttl, dnslib.CNAME(fqdn))]
        return []
    if svc.cluster_ips:
        out = [address_rr(name, ip, ttl) for ip in svc.cluster_ips]
        return out + _ports_srv(name, svc.ports, ttl)
    slices = sorted(lk.slices(svc), key=lambda s: s.name)
    return _endpoints(lk, name, [(name, s) for s in slices])


def _import(lk: Lookup, imp: ServiceImport) -> list[dnslib.RR]:
    """Return the transferred records of one ServiceImport (in a multicluster zone)."""
    name = join(imp.name, imp.namespace, SVC, lk.zone)
    if imp.kind == "ClusterSetIP":
        out = [address_rr(name, ip, lk.ttl) for ip in imp.ips]
        return out + (_ports_srv(name, imp.ports, lk.ttl) if imp.ips else [])
    slices = sorted(lk.index.imports.slices_of(imp.namespace, imp.name), key=lambda s: s.name)
    return _endpoints(lk, name, [(join(s.cluster, name) if s.cluster else name, s) for s in slices])


def zone_transfer(
    index: Index,
    config: KubernetesConfig,
    zone: str,
    serial: int = 0,
    local_ips: tuple[str, ...] = (),
) -> list[dnslib.RR] | None:
    """Return the transfer of `zone` (see the module doc), or None if it is not a plugin zone.

    A non-zero `serial` not older than the zone's (IXFR from an up-to-date client) gets the
    SOA alone.
    """
    zone = zone.lower()
    if zone not in config.zones or is_reverse(zone):
        return None
    current = index.serial_for(config.is_multicluster(zone))
    soa = soa_rr(config, zone, current)
    if serial and serial >= current:
        return [soa]
    lk = Lookup(index, config, zone, local_ips)
    out = [soa]
    servers = list(dict.fromkeys(lk.ns_addresses()))
    for host in dict.fromkeys(host for host, _ in servers):
        out.append(dnslib.RR(zone, NS, IN, config.ttl, dnslib.NS(host)))
    out.extend(address_rr(host, ip, 0) for host, ip in servers)
    if lk.multicluster:
        imports = sorted(index.imports.imports.values(), key=lambda s: (s.name, s.namespace))
        for imp in imports:
            if lk.exposed(imp.namespace):
                out.extend(_import(lk, imp))
    else:
        for svc in sorted(index.services.values(), key=lambda s: (s.name, s.namespace)):
            if lk.exposed(svc.namespace):
                out.extend(_service(lk, svc))
    out.append(soa)
    return out
