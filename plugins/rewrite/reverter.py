"""rewrite: the writer that turns a reply to the rewritten query into a reply to the client's.

It puts the client's question back and applies the rules' reply rewrites, the last rule's
first (CoreDNS's ResponseReverter). Records are copied before they change: the records a
plugin answers with may be shared with its store.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import dnslib

from kdns.corefile.addresses import fqdn
from kdns.plugins.base import Resolver, ResponseWriter
from kdns.plugins.rewrite.rules import (
    OPT,
    CnameFollow,
    NameBack,
    OptionBack,
    RcodeSwap,
    ResponseRule,
    TtlClamp,
    ValueBack,
    rewrite_name,
)

CNAME = 5
#: Where each record type keeps the name that `answer value` rewrites.
VALUE_FIELDS = {
    dnslib.QTYPE.CNAME: "label",
    dnslib.QTYPE.PTR: "label",
    dnslib.QTYPE.NS: "label",
    dnslib.QTYPE.MX: "label",
    dnslib.QTYPE.SRV: "target",
    dnslib.QTYPE.SOA: "mname",
    dnslib.QTYPE.NAPTR: "replacement",
}


def _record(rr: dnslib.RR, rules: Sequence[ResponseRule]) -> dnslib.RR:
    """Return `rr` with the per-record rewrites applied (a copy if anything changed)."""
    if rr.rtype == OPT:
        return rr
    name = owner = str(rr.rname)
    ttl = rr.ttl
    field = VALUE_FIELDS.get(rr.rtype)
    value = original_value = str(getattr(rr.rdata, field)) if field else ""
    for rule in reversed(rules):
        if isinstance(rule, NameBack):
            name = rule.rewrite(name)
        elif isinstance(rule, ValueBack):
            if field:
                value = rule.rewrite(value)
        elif isinstance(rule, TtlClamp):
            ttl = min(max(ttl, rule.minimum), rule.maximum)
    if name == owner and ttl == rr.ttl and value == original_value:
        return rr
    rdata = rr.rdata
    if value != original_value and field:
        rdata = copy.copy(rdata)
        setattr(rdata, field, dnslib.DNSLabel(value))
    return dnslib.RR(name, rr.rtype, rr.rclass, ttl, rdata)


def _options(opt: dnslib.RR, rules: Sequence[ResponseRule]) -> dnslib.RR:
    """Return the reply's OPT with reverted options put back as the client sent them."""
    options = list(opt.rdata or [])
    for rule in reversed(rules):
        if isinstance(rule, OptionBack):
            options = [o for o in options if o.code != rule.code]
            if rule.original is not None:
                options.append(rule.original)
    return dnslib.RR(opt.rname, opt.rtype, opt.rclass, opt.ttl, options)


def revert(
    reply: dnslib.DNSRecord, questions: list[dnslib.DNSQuestion], rules: Sequence[ResponseRule]
) -> dnslib.DNSRecord:
    """Return the reply the client should get: its own question, the rewrites applied."""
    header = copy.copy(reply.header)
    for rule in reversed(rules):
        if isinstance(rule, RcodeSwap) and header.rcode == rule.old:
            header.rcode = rule.new
    records = [r for r in rules if isinstance(r, NameBack | ValueBack | TtlClamp)]
    reverts_options = any(isinstance(r, OptionBack) for r in rules)

    def section(rrs: list[dnslib.RR]) -> list[dnslib.RR]:
        out = [_record(rr, records) for rr in rrs] if records else list(rrs)
        if reverts_options:
            out = [_options(rr, rules) if rr.rtype == OPT else rr for rr in out]
        return out

    out = dnslib.DNSRecord(header, questions=list(questions))
    out.rr, out.auth, out.ar = section(reply.rr), section(reply.auth), section(reply.ar)
    return out


async def follow_cnames(
    reply: dnslib.DNSRecord, follow: CnameFollow, resolve: Resolver | None
) -> dnslib.DNSRecord:
    """Rewrite CNAME targets a cname rule matches and answer with the new target's records.

    As CoreDNS does, the answer becomes the CNAME records followed by the records the new
    target resolves to; the records the old target led to are dropped.
    """
    for rr in reply.rr:
        if rr.rtype != CNAME:
            continue
        rule = follow.rule
        target = rewrite_name(rule.match, rule.replacement, str(rr.rdata.label).lower())
        if target is None:
            continue
        cnames = []
        for other in reply.rr:
            if other is rr:
                other = dnslib.RR(rr.rname, rr.rtype, rr.rclass, rr.ttl, dnslib.CNAME(target))
            if other.rtype == CNAME:
                cnames.append(other)
        found: list[dnslib.RR] = []
        if resolve is not None:
            looked_up = await resolve(target, follow.qtype)
            found = [r for r in looked_up.rr if fqdn(str(r.rname)) == fqdn(target)]
        out = copy.copy(reply)
        out.rr = cnames + found
        return out
    return reply


class Reverter:
    """The writer the rest of the chain writes to while a rewritten query is answered.

    Replies are rewritten and passed on at once, except when a `cname` rule needs a lookup:
    then they are held until `flush`, which the handler awaits after the chain returns.
    """

    __slots__ = ("follows", "held", "inner", "questions", "rules", "written")

    def __init__(
        self,
        inner: ResponseWriter,
        questions: list[dnslib.DNSQuestion],
        rules: Sequence[ResponseRule],
    ) -> None:
        self.inner = inner
        self.questions = questions
        self.follows = [r for r in rules if isinstance(r, CnameFollow)]
        self.rules = [r for r in rules if not isinstance(r, CnameFollow)]
        self.held: list[dnslib.DNSRecord] = []
        self.written: dnslib.DNSRecord | None = None

    @property
    def size(self) -> int:
        """Return the size of the bytes sent, when the writer underneath knows it."""
        return int(getattr(self.inner, "size", 0))

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Rewrite `reply` for the client and write it (or hold it for `flush`)."""
        if self.follows:
            self.held.append(reply)
            return
        self._send(reply)

    def _send(self, reply: dnslib.DNSRecord) -> None:
        out = revert(reply, self.questions, self.rules)
        self.written = out
        self.inner.write(out)

    async def flush(self, resolve: Resolver | None) -> None:
        """Follow CNAMEs in the held replies, then write them."""
        held, self.held = self.held, []
        for reply in held:
            for follow in reversed(self.follows):
                reply = await follow_cnames(reply, follow, resolve)
            self._send(reply)
