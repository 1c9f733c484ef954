"""The zone transfer of a k8s_external zone.

Order: the SOA; the NS and the name server's addresses (`ns1.<apex>.<zone>`, TTL = ttl); then,
per Service with external addresses (sorted by name): its A/AAAA records (a load balancer's
host name as a CNAME), one SRV per port at the Service name and one per named port at
`_<port>._<proto>.<service>...`, all weight 100 to the Service name; with `headless`, per
headless Service without external IPs: an A/AAAA per ready address at the Service name and at
the endpoint name, and per named slice port an SRV to the endpoint name; then the SOA again.
CoreDNS streams the same kinds of records but keeps only the first SRV of each owner name.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import dnslib

from kdns.plugins.k8s_external.lookup import ClusterSource, Entry, services
from kdns.plugins.kubernetes.names import join, parse_ip
from kdns.plugins.kubernetes.objects import Port, Service
from kdns.plugins.kubernetes.records import address_rr

if TYPE_CHECKING:
    from kdns.plugins.k8s_external.handler import K8sExternal

CNAME, SRV = 5, 33
IN = 1


def _srv(owner: str, weight: int, port: int, target: str, ttl: int) -> dnslib.RR:
    return dnslib.RR(owner, SRV, IN, ttl, dnslib.SRV(0, weight, port, target))


def _port_owner(p: Port, name: str) -> str:
    return join(f"_{p.name.lower()}", f"_{p.protocol.lower()}", name)


def _external(svc: Service, name: str, ttl: int) -> list[dnslib.RR]:
    out: list[dnslib.RR] = []
    for host in svc.external_ips:
        if parse_ip(host) is None:
            target = host if host.endswith(".") else host + "."
            out.append(dnslib.RR(name, CNAME, IN, ttl, dnslib.CNAME(target)))
        else:
            out.append(address_rr(name, host, ttl))
    for p in svc.ports:
        out.append(_srv(name, 100, p.port, name, ttl))
    for p in svc.ports:
        if p.name:
            out.append(_srv(_port_owner(p, name), 100, p.port, name, ttl))
    return out


def _headless(entries: list[Entry], name: str, ttl: int) -> list[dnslib.RR]:
    out: list[dnslib.RR] = []
    addresses = list(dict.fromkeys((e.host, e.key) for e in entries))
    weight = max(1, math.floor(100 / len(addresses)))
    for host, key in addresses:
        out.append(address_rr(name, host, ttl))
        out.append(address_rr(key, host, ttl))
    seen: set[tuple[str, str, int, str]] = set()
    for e in entries:
        if e.port_name and e.port != -1 and (e.port_name, e.protocol, e.port, e.key) not in seen:
            seen.add((e.port_name, e.protocol, e.port, e.key))
            owner = join(f"_{e.port_name}", f"_{e.protocol}", name)
            out.append(_srv(owner, weight, e.port, e.key, ttl))
    return out


def zone_transfer(
    plugin: K8sExternal, source: ClusterSource, zone: str, serial: int = 0
) -> list[dnslib.RR] | None:
    """Return the transfer of `zone` (see the module doc), or None if it is not a plugin zone."""
    zone = zone.lower()
    if zone not in plugin.zones:
        return None
    soa = plugin.soa(zone)
    if serial and serial >= plugin.serial():
        return [soa]
    ttl = plugin.ttl
    out = [soa, plugin.ns(zone), *plugin.name_servers(join("ns1", plugin.apex, zone))]
    for svc, entries in services(source, zone, plugin.headless):
        name = join(svc.name, svc.namespace, zone)
        if svc.external_ips:
            out.extend(_external(svc, name, ttl))
        else:
            out.extend(_headless(entries, name, ttl))
    out.append(soa)
    return out
