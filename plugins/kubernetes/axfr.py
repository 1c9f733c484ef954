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

then the SOA again. Pod names, PTRs, `dns-version` and endpoint names of ClusterIP Services
are not transferred. Only a forward zone of the plugin, asked at its apex, is transferred
(CoreDNS would also stream an odd copy of the zone for a name below the apex).
"""

from __future__ import annotations

import math

import dnslib

from kdns.plugins.kubernetes.config import KubernetesConfig, is_reverse
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.lookup import Lookup
from kdns.plugins.kubernetes.names import SVC, endpoint_name, join, parse_ip
from kdns.plugins.kubernetes.objects import Service
from kdns.plugins.kubernetes.records import address_rr, soa_rr

NS, CNAME, SRV = 2, 5, 33
IN = 1


def _srv(owner: str, weight: int, port: int, target: str, ttl: int) -> dnslib.RR:
    return dnslib.RR(owner, SRV, IN, ttl, dnslib.SRV(0, weight, port, target))


def _service(lk: Lookup, svc: Service) -> list[dnslib.RR]:
    """Return the transferred records of one Service."""
    ttl = lk.ttl
    name = join(svc.name, svc.namespace, SVC, lk.zone)
    out: list[dnslib.RR] = []
    if svc.kind == "ExternalName":
        target = svc.external_name
        if target and parse_ip(target) is None:
            fqdn = target if target.endswith(".") else target + "."
            out.append(dnslib.RR(name, CNAME, IN, ttl, dnslib.CNAME(fqdn)))
        return out
    if svc.cluster_ips:
        out.extend(address_rr(name, ip, ttl) for ip in svc.cluster_ips)
        for p in svc.ports:
            out.append(_srv(name, 100, p.port, name, ttl))
            if p.name:
                owner = join(f"_{p.name.lower()}", f"_{p.protocol.lower()}", name)
                out.append(_srv(owner, 100, p.port, name, ttl))
        return out
    pod_names = lk.config.endpoint_pod_names
    for s in sorted(lk.slices(svc), key=lambda s: s.name):
        ready = [(a, ep) for ep in s.endpoints if ep.ready for a in ep.addresses]
        if not ready:
            continue
        weight = max(1, math.floor(100 / len(ready)))
        for address, ep in ready:
            target = join(endpoint_name(address, ep.hostname, ep.pod_name, pod_names), name)
            out.append(address_rr(name, address, ttl))
            out.append(address_rr(target, address, ttl))
            for p in s.ports:
                if p.name:
                    owner = join(f"_{p.name.lower()}", f"_{p.protocol.lower()}", name)
                    out.append(_srv(owner, weight, p.port, target, ttl))
    return out


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
    soa = soa_rr(config, zone, index.serial)
    if serial and serial >= index.serial:
        return [soa]
    lk = Lookup(index, config, zone, local_ips)
    out = [soa]
    servers = list(dict.fromkeys(lk.ns_addresses()))
    for host in dict.fromkeys(host for host, _ in servers):
        out.append(dnslib.RR(zone, NS, IN, config.ttl, dnslib.NS(host)))
    out.extend(address_rr(host, ip, 0) for host, ip in servers)
    for svc in sorted(index.services.values(), key=lambda s: (s.name, s.namespace)):
        if lk.exposed(svc.namespace):
            out.extend(_service(lk, svc))
    out.append(soa)
    return out
