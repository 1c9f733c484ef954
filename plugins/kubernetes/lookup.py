"""What the cluster holds for one name: the entries answers are built from (no I/O).

This is CoreDNS's `Services`/`Records` backend step: a name inside a zone becomes a list of
entries (an address with a port and the name it is known by, a CNAME target, or a TXT text),
or None when the name does not exist (NXDOMAIN). An empty list means the name exists with
nothing to say (NODATA). records.py turns entries into resource records per query type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.index import Index, ready_ips
from kdns.plugins.kubernetes.names import (
    DEFAULT_NS,
    POD,
    SVC,
    RecordRequest,
    endpoint_name,
    is_reverse_name,
    join,
    parse_ip,
    parse_request,
    pod_ip_text,
    trim_zone,
)
from kdns.plugins.kubernetes.objects import EndpointSlice, MultiClusterSlice, Port, Service

A, NS, TXT, AAAA, SRV = 1, 2, 16, 28, 33
#: The version of the Kubernetes DNS specification served at `dns-version.<zone>`.
SCHEMA_VERSION = "1.1.0"
SCHEMA_TTL = 28800
#: What CoreDNS uses for a Service or slice without ports: it answers addresses, never SRV.
NO_PORT = Port("", "", -1)


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing a name stands for (CoreDNS's msg.Service).

    `host` is an IP address, or a target name for a CNAME (ExternalName services), or ""
    for text; `key` is the name the entry is known by (SRV target, owner of glue records).
    """

    host: str
    port: int
    key: str
    ttl: int
    text: str = ""


def _port_match(r: RecordRequest, p: Port) -> bool:
    return (not r.port or r.port == p.name.lower()) and (
        not r.protocol or r.protocol == p.protocol.lower()
    )


class Lookup:
    """Finds the entries of names inside one zone, spelled as the client spelled it."""

    __slots__ = ("config", "index", "local_ips", "multicluster", "ttl", "zone")

    def __init__(
        self,
        index: Index,
        config: KubernetesConfig,
        zone: str,
        local_ips: tuple[str, ...] = (),
    ) -> None:
        self.index = index
        self.config = config
        self.zone = zone
        self.ttl = config.ttl
        self.local_ips = local_ips
        #: A `multicluster` zone answers ServiceImports instead of Services.
        self.multicluster = zone.lower() in config.multicluster

    def exposed(self, namespace: str) -> bool:
        """Tell whether names in `namespace` are answered: listed (if listed) and existing."""
        listed = self.config.namespaces
        return (not listed or namespace in listed) and self.index.has_namespace(namespace)

    def slices(self, svc: Service) -> tuple[EndpointSlice, ...]:
        """Return the EndpointSlices of a Service (none with `noendpoints`)."""
        if self.config.noendpoints:
            return ()
        return tuple(self.index.slices_of(svc.namespace, svc.name))

    # -- the backend steps ---------------------------------------------------------------------

    def services(self, qname: str, qtype: int) -> list[Entry] | None:
        """Return the entries of a lower-case name for a query type (CoreDNS's Services)."""
        if qtype == TXT:
            if trim_zone(qname, self.zone) == "dns-version":
                return [Entry("", 0, qname, SCHEMA_TTL, SCHEMA_VERSION)]
            # TXT exists only at dns-version: NODATA where the name has entries, else NXDOMAIN.
            return [] if self.records(qname) else None
        if qtype == NS:
            return [Entry(ip, 0, name, self.ttl) for name, ip in self.ns_addresses()]
        if self.is_default_ns(qname):
            return [
                Entry(ip, 0, qname, self.ttl)
                for _, ip in self.ns_addresses()
                if qtype in (A, AAAA) and (":" in ip) == (qtype == AAAA)
            ]
        found = self.records(qname)
        if found is not None and qtype == SRV:
            found = [e for e in found if parse_ip(e.host) is not None]
        return found

    def is_default_ns(self, qname: str) -> bool:
        """Tell whether a name is `ns.dns.<zone>`, compared with the zone as the client spelled it.

        CoreDNS compares the lower-cased query with the zone in the query's own spelling, so
        `ns.dns.CLUSTER.local.` is not recognised; kdns keeps that quirk.
        """
        return qname.startswith(DEFAULT_NS) and qname.find(self.zone) == len(DEFAULT_NS)

    def records(self, qname: str) -> list[Entry] | None:
        """Return the entries of a Service, endpoint or pod name (CoreDNS's Records)."""
        r = parse_request(trim_zone(qname, self.zone), self.multicluster)
        if r is None:
            return None
        if not r.pod_or_svc:
            return []
        if is_reverse_name(qname) or not self.exposed(r.namespace):
            return None
        if r.pod_or_svc == POD:
            return self.find_pods(r)
        if self.multicluster:
            return self.find_imports(r)
        return self.find_services(r)

    def find_services(self, r: RecordRequest) -> list[Entry] | None:
        """Return the entries of a Service name, its endpoints, or its ports."""
        if not r.service:
            return []
        svc = self.index.service(r.namespace, r.service)
        if svc is None:
            return None
        if (
            self.config.ignore_empty_service
            and svc.kind == "ClusterIP"
            and not any(any(ready_ips(s)) for s in self.slices(svc))
        ):
            return None
        key = join(svc.name, svc.namespace, SVC, self.zone)
        if svc.kind == "ExternalName":
            target = svc.external_name
            if r.endpoint or r.port or r.protocol or not target or parse_ip(target) is not None:
                return None
            return [Entry(target, 0, key, self.ttl)]
        out: list[Entry] = []
        if svc.kind == "Headless" or r.endpoint:
            out = self._endpoint_entries(r, ((key, s) for s in self.slices(svc)))
            return out or None
        matched = False
        for p in svc.ports or (NO_PORT,):
            if _port_match(r, p):
                matched = True
                out.extend(Entry(ip, p.port, key, self.ttl) for ip in svc.cluster_ips)
        return out if matched else None

    def find_imports(self, r: RecordRequest) -> list[Entry] | None:
        """Return the entries of a ServiceImport name, its endpoints, or its ports.

        As `find_services`, with ServiceImports for Services (ClusterSetIP: `spec.ips`) and
        their MCS slices for EndpointSlices; endpoint names carry the slice's cluster id.
        """
        if not r.service:
            return []
        imp = self.index.imports.get(r.namespace, r.service)
        if imp is None:
            return None
        key = join(imp.name, imp.namespace, SVC, self.zone)
        out: list[Entry] = []
        if imp.kind == "Headless" or r.endpoint:
            owned = (
                (join(s.cluster, key) if s.cluster else key, s)
                for s in self.index.imports.slices_of(imp.namespace, imp.name)
                if not r.endpoint or r.cluster == s.cluster.lower()
            )
            out = self._endpoint_entries(r, owned)
            return out or None
        matched = False
        for p in imp.ports or (NO_PORT,):
            if _port_match(r, p):
                matched = True
                out.extend(Entry(ip, p.port, key, self.ttl) for ip in imp.ips)
        return out if matched else None

    def _endpoint_entries(
        self,
        r: RecordRequest,
        owned: Iterable[tuple[str, EndpointSlice | MultiClusterSlice]],
    ) -> list[Entry]:
        """Return the entries of the ready endpoints that match `r`, of each slice with the
        name its endpoint names end in (the Service's; an MCS slice's adds its cluster id)."""
        out: list[Entry] = []
        pod_names = self.config.endpoint_pod_names
        for owner, s in owned:
            for ep in s.endpoints:
                if not ep.ready:
                    continue
                for addr in ep.addresses:
                    name = endpoint_name(addr, ep.hostname, ep.pod_name, pod_names)
                    if r.endpoint and name.lower() != r.endpoint:
                        continue
                    for p in s.ports or (NO_PORT,):
                        if _port_match(r, p):
                            out.append(Entry(addr, p.port, join(name, owner), self.ttl))
        return out

    def find_pods(self, r: RecordRequest) -> list[Entry] | None:
        """Return the entries of a pod name `<dashed-ip>.<ns>.pod.<zone>`."""
        mode = self.config.pods
        if mode == "disabled":
            return None
        if not r.service:
            return []
        ip = pod_ip_text(r.service)
        entry = Entry(ip, 0, join(r.service, r.namespace, POD, self.zone), self.ttl)
        if mode == "insecure":
            return [entry] if parse_ip(ip) is not None else None
        return [entry] * self.index.pods_with_ip(r.namespace, ip) or None

    def ns_addresses(self) -> list[tuple[str, str]]:
        """Return (name, IP) of this server: the Services whose endpoints it is, else ns.dns.

        The server's own non-loopback addresses are looked up among the ready endpoints; each
        Service of a matching slice contributes its ClusterIPs (headless: the slice's endpoint
        names and addresses). When no slice holds any of them, `ns.dns.<zone>` stands for them.
        """
        found = False
        out: list[tuple[str, str]] = []
        for local in self.local_ips:
            for s in () if self.config.noendpoints else self.index.slices_with_ip(local):
                found = True
                svc = self.index.service(s.namespace, s.service)
                if svc is None:
                    continue
                svc_name = join(svc.name, svc.namespace, SVC, self.zone)
                if svc.kind != "Headless":
                    out.extend((svc_name, ip) for ip in svc.cluster_ips)
                    continue
                pod_names = self.config.endpoint_pod_names
                for ep in s.endpoints:
                    if ep.ready:
                        for a in ep.addresses:
                            name = endpoint_name(a, ep.hostname, ep.pod_name, pod_names)
                            out.append((join(name, svc_name), a))
        if not found:
            own = join("ns", "dns", self.zone)
            out = [(own, ip) for ip in self.local_ips]
        return out

    def reverse(self, ip: str) -> list[str]:
        """Return the PTR targets of an address: its Service, else every endpoint name with it.

        Targets are written in the primary zone. `namespaces` filters them; `namespace_labels`
        does not (CoreDNS checks only the listed namespaces here).
        """
        primary = self.config.primary_zone
        listed = bool(self.config.namespaces)
        for svc in self.index.services_with_ip(ip):
            if listed and not self.exposed(svc.namespace):
                continue
            return [join(svc.name, svc.namespace, SVC, primary)]
        out: list[str] = []
        if self.config.noendpoints:
            return out
        pod_names = self.config.endpoint_pod_names
        for s in self.index.slices_with_ip(ip):
            if listed and not self.exposed(s.namespace):
                continue
            for ep in s.endpoints:
                if ep.ready and ip in ep.addresses:
                    name = endpoint_name(ip, ep.hostname, ep.pod_name, pod_names)
                    out.append(join(name, s.service, s.namespace, SVC, primary))
        return out
