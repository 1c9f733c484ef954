"""template: answers queries with records built from templates, as CoreDNS's template does.

For a query inside the plugin's zones, the templates are tried in order. One whose zones,
class and type fit (ANY on either side matches) and one of whose regular expressions matches
the lower-case name answers it: an authoritative reply with the rendered sections and its
rcode (SERVFAIL is returned unwritten). When none of its expressions match, `fallthrough`
moves on to the next template (and after the last, the next plugin); without it the query
fails with SERVFAIL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import dnslib

from kdns.corefile.mnemonics import QCLASSES, QTYPES
from kdns.corefile.syntax import Fallthrough, longest_zone
from kdns.plugins.base import (
    EDNS_SIZE,
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Request,
    Resolver,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.template.config import TemplateConfig
from kdns.plugins.template.gofuncs import Struct, TemplateExecError
from kdns.plugins.template.gotemplate import Template, compile_template
from kdns.plugins.template.metrics import MATCHES, RR_FAILURES, TEMPLATE_FAILURES

ANY = 255
CNAME, A, AAAA = 5, 1, 28
#: The EDNS0 option code of an Extended DNS Error (RFC 8914).
EDE = 15
#: miekg/dns gives a record without a TTL this one.
DEFAULT_TTL = 3600
_PARENS = re.compile(r'"(?:[^"\\]|\\.)*"|[()]')


def parse_rr(text: str) -> dnslib.RR:
    """Read one record in zone-file syntax, as miekg/dns's NewRR does; raise ValueError."""
    # Parentheses only group a record over lines; dnslib does not take them on one line.
    flat = _PARENS.sub(lambda m: m.group() if m.group().startswith('"') else " ", text)
    try:
        records = dnslib.RR.fromZone(flat, ttl=DEFAULT_TTL)
    except Exception as exc:  # dnslib raises assorted errors for bad zone text
        raise ValueError(f"dns: bad RR '{text}': {exc}") from None
    if len(records) != 1:
        raise ValueError(f"dns: expected one RR in '{text}', got {len(records)}")
    return records[0]


@dataclass(frozen=True, slots=True)
class Compiled:
    """One template directive, ready to answer: numbers for class and type, compiled RRs."""

    config: TemplateConfig
    qclass: int
    qtype: int
    sections: tuple[tuple[str, tuple[Template, ...]], ...]
    #: Whether a template reads .Message (whose text form is costly to build).
    message: bool

    @classmethod
    def of(cls, config: TemplateConfig) -> Compiled:
        """Compile a template directive's config."""
        sections = tuple(
            (section, tuple(compile_template(t) for t in texts))
            for section, texts in (
                ("answer", config.answer),
                ("authority", config.authority),
                ("additional", config.additional),
            )
        )
        texts = (*config.answer, *config.authority, *config.additional)
        message = any(".Message" in text for text in texts)
        return cls(config, QCLASSES[config.qclass], QTYPES[config.qtype], sections, message)


class Templates(Plugin[TemplateConfig]):
    """Every template directive of a server block, tried in the order written."""

    name = "template"

    def __init__(
        self, configs: tuple[TemplateConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        if any(c.variables or c.expressions for c in configs):
            raise PluginError(
                self.name, "kdns does not evaluate the expr language of 'var' and 'expr'"
            )
        self.templates = tuple(Compiled.of(c) for c in configs)
        self.zones = tuple(dict.fromkeys(z for c in configs for z in c.zones))
        #: Looks CNAME targets up through the server; set by the runtime.
        self.resolve: Resolver | None = None

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer from the first template that matches, or pass the query on."""
        qname = req.qname
        if longest_zone(qname, self.zones) is None:
            return await next_or_failure(self.name, self.next, req, w)
        for t in self.templates:
            zone = longest_zone(qname, t.config.zones)
            if zone is None:
                continue
            if t.qclass != ANY and req.qclass != ANY and req.qclass != t.qclass:
                continue
            if t.qtype != ANY and req.qtype != ANY and req.qtype != t.qtype:
                continue
            for pattern in t.config.match:
                found = pattern.search(qname)
                if found is not None:
                    return await self._answer(req, w, t, zone, found)
            fall: Fallthrough | None = t.config.fallthrough
            if fall is None or not fall.covers(qname):
                return SERVFAIL
        return await next_or_failure(self.name, self.next, req, w)

    async def _answer(
        self, req: Request, w: ResponseWriter, t: Compiled, zone: str, found: re.Match[str]
    ) -> int:
        config = t.config
        qclass = config.qclass if req.qclass == ANY else req.class_name
        qtype = config.qtype if req.qtype == ANY else req.type_name
        labels = (req.server, zone, req.view, qclass, qtype)
        MATCHES.inc(labels)
        if config.rcode == SERVFAIL:
            return SERVFAIL
        data = _data(req, zone, qclass, qtype, found, t.message)
        reply = req.reply(config.rcode, aa=True)
        for section, templates in t.sections:
            for template in templates:
                rr = _render(template, data, section, labels)
                if section == "answer":
                    reply.add_answer(rr)
                    if rr.rtype == CNAME and req.qtype in (A, AAAA) and self.resolve:
                        followed = await self.resolve(str(rr.rdata.label), req.qtype)
                        for extra in followed.rr:
                            reply.add_answer(extra)
                elif section == "authority":
                    reply.add_auth(rr)
                else:
                    reply.add_ar(rr)
        if config.ederror is not None and req.opt is not None:
            code = config.ederror.code.to_bytes(2, "big")
            option = dnslib.EDNSOption(EDE, code + config.ederror.reason.encode())
            flags = "do" if req.do else ""
            reply.add_ar(dnslib.EDNS0(udp_len=EDNS_SIZE, flags=flags, opts=[option]))
        req.answered_by = self.name
        w.write(reply)
        return config.rcode


def _data(
    req: Request, zone: str, qclass: str, qtype: str, found: re.Match[str], message: bool
) -> dict[str, object]:
    """Return what a template sees for this query and match (CoreDNS's templateData)."""
    match = [found.group(0), *(g or "" for g in found.groups())]
    group = {str(i): m for i, m in enumerate(match)}
    for name, index in found.re.groupindex.items():
        group[name] = match[index]
    meta = req.meta
    question = Struct(
        f";{req.name}\t{req.class_name}\t {req.type_name}",
        Name=req.name,
        Qtype=req.qtype,
        Qclass=req.qclass,
    )
    lookup: Callable[[str], str] = lambda key: meta.get(key, "")  # noqa: E731
    return {
        "Zone": zone,
        "Name": req.qname,
        "Regex": found.re.pattern,
        "Match": match,
        "Group": group,
        "Class": qclass,
        "Type": qtype,
        "Message": Struct(str(req.msg) if message else "", Id=req.id),
        "Question": question,
        "Remote": req.remote[0],
        "Var": {},
        "Meta": lookup,
    }


def _render(
    template: Template, data: dict[str, object], section: str, labels: tuple[str, ...]
) -> dnslib.RR:
    """Render one record, counting and reporting a failure as CoreDNS does."""
    try:
        text = template.render(data)
    except TemplateExecError as exc:
        TEMPLATE_FAILURES.inc((*labels, section, template.text))
        raise PluginError("template", f"{section} template '{template.text}': {exc}") from None
    try:
        return parse_rr(text)
    except ValueError as exc:
        RR_FAILURES.inc((*labels, section, template.text))
        raise PluginError("template", str(exc)) from None
