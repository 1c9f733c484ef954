"""k8s_external: answers Services' external addresses under an outside zone, as CoreDNS does.

The data is the *kubernetes* plugin's (found behind this one in the chain at start; without
it every query goes to the next plugin). At a zone's apex: SOA, and NS with the name server's
addresses as glue; under `<apex>.<zone>`: `ns1.<apex>.<zone>` has those addresses and
`<apex>.<zone>` is an empty name. Elsewhere, lookup.py finds the entries: A and AAAA answer the
addresses (a load balancer's host name becomes a CNAME followed by its addresses, resolved
through the server), SRV the ports with the addresses as additional records, PTR (in a reverse
zone of the plugin) the Service name under the first zone; other types get NODATA. No entry
means NXDOMAIN (or the next plugin, with `fallthrough`) or NODATA for a name that exists.
The SOA serial is the cluster index's, so IXFR clients see changes.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import dnslib
import structlog

from kdns.plugins.base import (
    NOERROR,
    NXDOMAIN,
    BuildContext,
    Handler,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.k8s_external.config import K8sExternalConfig
from kdns.plugins.k8s_external.lookup import ClusterSource, Entry, external, find_source
from kdns.plugins.k8s_external.lookup import name_servers as _name_servers
from kdns.plugins.k8s_external.xfr import zone_transfer
from kdns.plugins.kubernetes.names import in_zone, join, match_zone, parse_ip
from kdns.plugins.kubernetes.records import address_rr

log = structlog.get_logger("plugin/k8s_external")

A, NS, CNAME, SOA, PTR, AAAA, SRV = 1, 2, 5, 6, 12, 28, 33
IN = 1

#: Resolves a name through the whole server: (name, qtype) -> the reply.
Resolver = Callable[[str, int], Awaitable[dnslib.DNSRecord]]


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


class K8sExternal(Plugin[K8sExternalConfig]):
    """Serves `service.namespace.<zone>` from the kubernetes plugin's Services."""

    name = "k8s_external"

    def __init__(
        self,
        configs: tuple[K8sExternalConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.zones = self.config.zones
        self.apex = self.config.apex
        self.ttl = self.config.ttl
        self.headless = self.config.headless
        #: The kubernetes plugin behind this one (found at start).
        self.source: ClusterSource | None = find_source(nxt)
        #: Looks load balancer host names up through the server (set by the runtime).
        self.resolve: Resolver | None = None

    async def start(self) -> None:
        """Find the kubernetes plugin behind this one in the chain."""
        self.source = find_source(self.next)
        if self.source is None:
            log.warning("no kubernetes plugin in the block: k8s_external passes every query on")

    # -- records -------------------------------------------------------------------------------

    def serial(self) -> int:
        """Return the zones' SOA serial: the cluster index's."""
        return self.source.index.serial if self.source is not None else 0

    def soa(self, zone: str) -> dnslib.RR:
        """Return the SOA of `zone`: `ns1.<apex>.<zone>`, `hostmaster.<apex>.<zone>`."""
        rdata = dnslib.SOA(
            join("ns1", self.apex, zone),
            join("hostmaster", self.apex, zone),
            (self.serial(), 7200, 1800, 86400, self.ttl),
        )
        return dnslib.RR(zone, SOA, IN, self.ttl, rdata)

    def ns(self, zone: str) -> dnslib.RR:
        """Return the NS record of `zone`."""
        return dnslib.RR(zone, NS, IN, self.ttl, dnslib.NS(join("ns1", self.apex, zone)))

    def name_servers(self, owner: str) -> list[dnslib.RR]:
        """Return the name server's address records under `owner`."""
        if self.source is None:
            return []
        return [address_rr(owner, ip, self.ttl) for ip in _name_servers(self.source, self.headless)]

    def transfer(self, zone: str, serial: int = 0) -> list[dnslib.RR] | None:
        """Return the zone transfer of one of the plugin's zones (xfr.py), else None."""
        if self.source is None:
            return None
        return zone_transfer(self, self.source, zone, serial)

    # -- queries -------------------------------------------------------------------------------

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer names in the zones (see the module doc); pass others on."""
        zone = match_zone(self.zones, req.qname)
        source = self.source
        if zone is None or source is None:
            return await next_or_failure(self.name, self.next, req, w)
        for z in self.zones:
            if req.qname == z:
                return self._apex(req, w, z)
            if in_zone(join(self.apex, z), req.qname):
                return self._sub_apex(req, w, z)
        entries, rcode = external(source, zone, req.qname, req.qtype, self.headless)
        if not entries:
            fall = self.config.fallthrough
            if rcode == NXDOMAIN and fall is not None and fall.covers(req.qname):
                return await next_or_failure(self.name, self.next, req, w)
            return self._write(req, w, zone, rcode)
        answer: list[dnslib.RR] = []
        extra: list[dnslib.RR] = []
        truncated = False
        if req.qtype in (A, AAAA):
            answer, truncated = await self._addresses(req, entries)
        elif req.qtype == SRV:
            answer, extra = await self._srv(req, entries)
        elif req.qtype == PTR:
            targets = dict.fromkeys(e.host for e in entries)
            answer = [
                dnslib.RR(req.name, PTR, IN, self.ttl, dnslib.PTR(join(t, self.zones[0])))
                for t in targets
            ]
        return self._write(req, w, zone, NOERROR, answer, extra, truncated)

    def _write(
        self,
        req: Request,
        w: ResponseWriter,
        zone: str,
        rcode: int,
        answer: list[dnslib.RR] | None = None,
        extra: list[dnslib.RR] | None = None,
        truncated: bool = False,
    ) -> int:
        reply = req.reply(rcode, aa=True)
        reply.rr = answer or []
        reply.ar = extra or []
        if not reply.rr:
            reply.auth = [self.soa(zone)]
        if truncated:
            reply.header.tc = 1
        req.answered_by = self.name
        w.write(reply)
        return rcode

    def _apex(self, req: Request, w: ResponseWriter, zone: str) -> int:
        """Answer at a zone's apex: SOA, NS with glue, NODATA for the rest."""
        if req.qtype == SOA:
            return self._write(req, w, zone, NOERROR, [self.soa(zone)])
        if req.qtype == NS:
            glue = self.name_servers(join("ns1", self.apex, req.name))
            return self._write(req, w, zone, NOERROR, [self.ns(zone)], glue)
        return self._write(req, w, zone, NOERROR)

    def _sub_apex(self, req: Request, w: ResponseWriter, zone: str) -> int:
        """Answer under `<apex>.<zone>`: the name server's addresses at `ns1`, else nothing."""
        apex = join(self.apex, zone)
        if req.qname == apex:
            return self._write(req, w, zone, NOERROR)  # an empty non-terminal
        if req.qname != join("ns1", apex):
            return self._write(req, w, zone, NXDOMAIN)
        found = [rr for rr in self.name_servers(req.name) if rr.rtype == req.qtype]
        return self._write(req, w, zone, NOERROR, found)

    async def _lookup(self, target: str, qtype: int) -> dnslib.DNSRecord | None:
        """Resolve a load balancer's host name through the server; None when that failed."""
        if self.resolve is None:
            return None
        try:
            return await self.resolve(target, qtype)
        except Exception:  # CoreDNS keeps the CNAME and drops what the lookup did not give
            log.debug("resolving a load balancer host name failed", target=target, exc_info=True)
            return None

    async def _addresses(self, req: Request, entries: list[Entry]) -> tuple[list[dnslib.RR], bool]:
        """Return the A or AAAA answer and whether a host name lookup was truncated."""
        want_v4 = req.qtype == A
        out: list[dnslib.RR] = []
        seen: set[str] = set()
        truncated = False
        for e in entries:
            ip = parse_ip(e.host)
            if ip is None:
                target = _fqdn(e.host)
                out.append(dnslib.RR(req.name, CNAME, IN, self.ttl, dnslib.CNAME(target)))
                reply = await self._lookup(target, req.qtype)
                if reply is not None:
                    out.extend(reply.rr)
                    truncated = truncated or bool(reply.header.tc)
            elif (ip.version == 4) == want_v4 and e.host not in seen:
                seen.add(e.host)
                out.append(address_rr(req.name, e.host, self.ttl))
        return out, truncated

    async def _srv(
        self, req: Request, entries: list[Entry]
    ) -> tuple[list[dnslib.RR], list[dnslib.RR]]:
        """Return the SRV answer (priority 0, weight floor(100/N)) and its address records."""
        weight = max(1, math.floor(100 / len(entries)))
        answer: list[dnslib.RR] = []
        extra: list[dnslib.RR] = []
        seen: set[tuple[str, str | int]] = set()
        for e in entries:
            if e.port == -1:
                continue
            hostname = parse_ip(e.host) is None
            target = _fqdn(e.host) if hostname else e.key
            if (target, e.port) not in seen:
                seen.add((target, e.port))
                srv = dnslib.SRV(0, weight, e.port, target)
                answer.append(dnslib.RR(req.name, SRV, IN, self.ttl, srv))
            if (target, e.host) in seen:
                continue
            seen.add((target, e.host))
            if not hostname:
                extra.append(address_rr(target, e.host, self.ttl))
                continue
            for qtype in (A, AAAA):
                reply = await self._lookup(target, qtype)
                if reply is not None:
                    extra.extend(reply.rr)
        return answer, extra
