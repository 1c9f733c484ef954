"""acl: allows, blocks, filters or drops queries by name, type and source, as CoreDNS does.

Each `acl` directive is a rule for its zones (the longest zone that holds the query name
names it in metrics). Rules are checked in order; in a rule, the first policy that matches the
query type and the source address decides: `allow` stops checking and passes the query on,
`block` answers REFUSED with the extended DNS error Blocked (RFC 8914), `filter` answers an
empty NOERROR with the extended error Filtered, `drop` sends nothing at all. A query no
policy decides is allowed. A source address that cannot be read is blocked.
"""

from __future__ import annotations

import ipaddress

import dnslib
import structlog

from kdns.corefile.syntax import IPAddress, longest_zone
from kdns.plugins.acl.config import AclConfig, AclPolicy
from kdns.plugins.acl.metrics import ALLOWED, BLOCKED, DROPPED, FILTERED
from kdns.plugins.base import (
    EDNS_SIZE,
    NOERROR,
    REFUSED,
    Plugin,
    Request,
    ResponseWriter,
    next_or_failure,
)

log = structlog.get_logger("plugin/acl")

OPT = dnslib.QTYPE.OPT
#: The EDNS0 option code of an extended DNS error, and the info codes acl sends (RFC 8914).
EDE = 15
EDE_BLOCKED = 15
EDE_FILTERED = 17


def source_address(req: Request) -> IPAddress | None:
    """Return the client's address (zone index dropped), or None if it cannot be read."""
    try:
        ip = ipaddress.ip_address(req.remote[0].split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a dual-stack socket's IPv4 client: IPv4 networks match it
    return ip


def matches(policy: AclPolicy, qtype: int, ip: IPAddress) -> bool:
    """Tell whether a policy covers a query of `qtype` from `ip`."""
    if policy.qtypes is not None and qtype not in policy.qtypes:
        return False
    return policy.nets is None or any(ip in net for net in policy.nets)


def decide(policies: tuple[AclPolicy, ...], qtype: int, ip: IPAddress | None) -> str | None:
    """Return the action of the first policy that matches, None when none does."""
    if ip is None:
        return "block"
    for policy in policies:
        if matches(policy, qtype, ip):
            return policy.action
    return None


def refusal(req: Request, rcode: int, info: int) -> dnslib.DNSRecord:
    """Return an empty reply with `rcode` and an extended DNS error with `info`.

    The OPT record carrying the error reaches only clients that sent one (the writer drops it
    for the others).
    """
    reply = req.reply(rcode)
    opt = dnslib.EDNS0(udp_len=EDNS_SIZE, flags="do" if req.do else "")
    opt.rdata = [dnslib.EDNSOption(EDE, info.to_bytes(2, "big"))]
    reply.add_ar(opt)
    return reply


class Acl(Plugin[AclConfig]):
    """Checks every query against the rules of the block's acl directives, in order."""

    name = "acl"

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Allow, block, filter or drop the query (see the module doc)."""
        ip: IPAddress | None = None
        looked = False
        for rule in self.configs:
            zone = longest_zone(req.qname, rule.zones)
            if not zone:
                continue
            if not looked:
                ip, looked = source_address(req), True
                if ip is None:
                    log.error(f"Blocking request. Unable to parse source address: {req.remote[0]}")
            action = decide(rule.policies, req.qtype, ip)
            if action == "allow":
                break
            if action == "block":
                BLOCKED.inc((req.server, zone, req.view))
                return self._write(req, w, refusal(req, REFUSED, EDE_BLOCKED))
            if action == "filter":
                FILTERED.inc((req.server, zone, req.view))
                return self._write(req, w, refusal(req, NOERROR, EDE_FILTERED))
            if action == "drop":
                DROPPED.inc((req.server, zone, req.view))
                # Written nothing and returned NOERROR: the server sends no reply at all.
                return NOERROR
        ALLOWED.inc((req.server, req.view))
        return await next_or_failure(self.name, self.next, req, w)

    def _write(self, req: Request, w: ResponseWriter, reply: dnslib.DNSRecord) -> int:
        req.answered_by = self.name
        w.write(reply)
        return NOERROR  # written: CoreDNS returns success for a block too
