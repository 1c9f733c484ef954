"""rewrite: applying one rule to a query, and the reply rewrites a rule asks for.

A rule looks at the query as earlier rules left it (a `State`) and either leaves it alone
(returns None) or changes it and returns the reply rewrites to undo or adjust on the way back
(possibly none). This mirrors CoreDNS's Rule.Rewrite returning (ResponseRules, Result).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TypeAlias

import dnslib

from kdns.corefile.mnemonics import QCLASSES, QTYPES
from kdns.plugins.base import Request
from kdns.plugins.rewrite.config import (
    ClassRule,
    CnameRule,
    EdnsLocalRule,
    EdnsNsidRule,
    EdnsSubnetRule,
    NameMatch,
    NameRule,
    RcodeRule,
    Rule,
    TtlRule,
    TypeRule,
)

OPT = 41
NSID, SUBNET = 3, 8
#: The UDP size CoreDNS puts in an OPT record it adds to a query (SetEdns0(4096, false)).
ADDED_OPT_SIZE = 4096


# -- string rewriters (CoreDNS's stringRewriter) --------------------------------------------


def substitute(pattern: re.Pattern[str], replacement: str, text: str) -> str | None:
    """Return `replacement` with `{N}` filled from `pattern` searched in `text`, or None."""
    found = pattern.search(text)
    if found is None:
        return None
    result = replacement
    groups = [found.group(0), *(g or "" for g in found.groups())]
    for index, value in enumerate(groups):
        result = result.replace("{" + str(index) + "}", value)
    return result


@dataclass(frozen=True, slots=True)
class RegexRewriter:
    """Rewrite a string that matches `pattern` to `replacement` (with `{N}` groups)."""

    pattern: re.Pattern[str]
    replacement: str

    def __call__(self, text: str) -> str:
        """Return the rewritten string (unchanged when the pattern does not match)."""
        result = substitute(self.pattern, self.replacement, text)
        return text if result is None else result


@dataclass(frozen=True, slots=True)
class RemapRewriter:
    """Map a name, or a name below it, back from `orig` to `replacement` (`answer auto`)."""

    orig: str
    replacement: str

    def __call__(self, text: str) -> str:
        """Return the name mapped back, or unchanged."""
        if text == self.orig:
            return self.replacement
        if text.endswith("." + self.orig):
            return text[: len(text) - len(self.orig)] + self.replacement
        return text


@dataclass(frozen=True, slots=True)
class SuffixRewriter:
    """Swap a suffix of a name (`answer auto` of a suffix rule, in reverse)."""

    suffix: str
    replacement: str

    def __call__(self, text: str) -> str:
        """Return the name with the suffix swapped, or unchanged."""
        if text.endswith(self.suffix):
            return text[: len(text) - len(self.suffix)] + self.replacement
        return text


Rewriter: TypeAlias = RegexRewriter | RemapRewriter | SuffixRewriter


# -- reply rewrites (CoreDNS's ResponseRule) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameBack:
    """Rewrite the owner names of the reply's records."""

    rewrite: Rewriter


@dataclass(frozen=True, slots=True)
class ValueBack:
    """Rewrite the names inside the reply's records (CNAME, NS, MX, SRV... targets)."""

    rewrite: Rewriter


@dataclass(frozen=True, slots=True)
class TtlClamp:
    """Clamp the TTL of every record of the reply into [minimum, maximum]."""

    minimum: int
    maximum: int


@dataclass(frozen=True, slots=True)
class RcodeSwap:
    """Give a reply with response code `old` the code `new`."""

    old: int
    new: int


@dataclass(frozen=True, slots=True)
class OptionBack:
    """Put an EDNS0 option of the reply back as the client sent it (None: it sent none)."""

    code: int
    original: dnslib.EDNSOption | None


@dataclass(frozen=True, slots=True)
class CnameFollow:
    """Rewrite matching CNAME targets of the reply and look the new target up."""

    rule: CnameRule
    qtype: int


ResponseRule: TypeAlias = NameBack | ValueBack | TtlClamp | RcodeSwap | OptionBack | CnameFollow


# -- the query being rewritten ---------------------------------------------------------------


@dataclass(slots=True)
class State:
    """The query as the rules have left it so far."""

    req: Request
    #: The question name as it will be sent on (the client's case until a name rule changes it).
    name: str
    qtype: int
    qclass: int
    opt: dnslib.RR | None = None
    opt_changed: bool = False
    changed: bool = False
    name_changed: bool = False
    options: list[dnslib.EDNSOption] = field(default_factory=list)

    @classmethod
    def of(cls, req: Request) -> State:
        """Start from the client's query."""
        state = cls(req, req.name, req.qtype, req.qclass)
        client = req.opt
        if client is not None:
            state.opt = client
            state.options = list(client.rdata or [])
        return state

    @property
    def qname(self) -> str:
        """Return the current name in lower case (CoreDNS's state.Name())."""
        return self.name.lower()

    def find(self, code: int) -> int | None:
        """Return the position of the query's EDNS0 option `code`, or None."""
        for i, option in enumerate(self.options):
            if option.code == code:
                return i
        return None

    def original(self, code: int) -> dnslib.EDNSOption | None:
        """Return the client's own EDNS0 option `code`, or None."""
        client = self.req.opt
        for option in (client.rdata or []) if client is not None else []:
            if option.code == code:
                return option
        return None

    def edit_options(self) -> None:
        """Note that the options change (adding an OPT record if the query had none)."""
        self.opt_changed = True
        if self.opt is None:
            self.opt = dnslib.EDNS0(udp_len=ADDED_OPT_SIZE)

    def request(self) -> Request:
        """Return the rewritten query as a new request sharing the client's details."""
        msg = self.req.msg
        header = copy.copy(msg.header)
        ar = list(msg.ar)
        if self.opt_changed and self.opt is not None:
            opt = dnslib.RR(".", OPT, self.opt.rclass, self.opt.ttl, list(self.options))
            ar = [rr for rr in ar if rr.rtype != OPT] + [opt]
        question = dnslib.DNSQuestion(self.name, self.qtype, self.qclass)
        new = dnslib.DNSRecord(header, questions=[question], rr=list(msg.rr), auth=list(msg.auth))
        new.ar = ar
        rewritten = Request(
            new, self.req.proto, self.req.remote, self.req.local, size=self.req.size,
            server=self.req.server, zone=self.req.zone, view=self.req.view, meta=self.req.meta,
        )  # fmt: skip
        return rewritten


# -- rules -----------------------------------------------------------------------------------


def matches(match: NameMatch, name: str) -> bool:
    """Tell whether a lower-case name matches a rule's name match."""
    kind, value = match.kind, match.value
    if kind == "exact":
        return name == value
    if kind == "prefix":
        return name.startswith(value)
    if kind == "suffix":
        return name.endswith(value)
    if kind == "substring":
        return value in name
    assert match.pattern is not None
    return match.pattern.search(name) is not None


def rewrite_name(match: NameMatch, replacement: str, name: str) -> str | None:
    """Return what a rule rewrites a lower-case name to, or None if it does not match."""
    kind, value = match.kind, match.value
    if kind == "regex":
        assert match.pattern is not None
        return substitute(match.pattern, replacement, name)
    if not matches(match, name):
        return None
    if kind == "exact":
        return replacement
    if kind == "prefix":
        return replacement + name[len(value) :]
    if kind == "suffix":
        return name[: len(name) - len(value)] + replacement
    return name.replace(value, replacement)


def _name_rule(rule: NameRule, state: State) -> list[ResponseRule] | None:
    name, match = state.qname, rule.match
    kind, value, replacement = match.kind, match.value, rule.replacement
    new = rewrite_name(match, replacement, name)
    if new is None:
        return None
    state.name, state.changed, state.name_changed = new, True, True
    back: list[ResponseRule] = []
    if rule.auto and kind == "suffix":
        reverse = SuffixRewriter(replacement, value)
        back += [NameBack(reverse), ValueBack(reverse)]
    elif rule.auto:
        remap = RemapRewriter(new, name)
        back += [NameBack(remap), ValueBack(remap)]
    for answer in rule.answers:
        rewriter = RegexRewriter(answer.pattern, answer.replacement)
        back.append(NameBack(rewriter) if answer.field == "name" else ValueBack(rewriter))
    return back


def _set_option(state: State, action: str, code: int, data: bytes) -> bool:
    """Apply set/append/replace/unset to option `code`; tell whether the query changed."""
    at = state.find(code)
    if action == "unset":
        if at is None:
            return False
        state.edit_options()
        del state.options[at]
        return True
    if at is not None:
        if action == "append":
            return False
        state.edit_options()
        state.options[at] = dnslib.EDNSOption(code, data)
        return True
    if action == "replace":
        return False
    state.edit_options()
    state.options.append(dnslib.EDNSOption(code, data))
    return True


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None


def variable(name: str, state: State) -> bytes | None:
    """Return the data an EDNS0 local variable stands for in this query, or None."""
    req = state.req
    match name:
        case "{qname}":
            return state.name.encode()
        case "{qtype}":
            return state.qtype.to_bytes(2, "big")
        case "{client_ip}":
            client = _ip(req.remote[0])
            return None if client is None else client.packed
        case "{server_ip}":
            client, local = _ip(req.remote[0]), _ip(req.local[0])
            if client is None or local is None or local.version != client.version:
                return None
            return local.packed
        case "{client_port}":
            return req.remote[1].to_bytes(2, "big")
        case "{server_port}":
            return req.local[1].to_bytes(2, "big")
        case "{protocol}":
            return req.proto.encode()
    value = req.meta.get(name[1:-1], "")
    return value.encode() if value else None


def subnet_data(state: State, rule: EdnsSubnetRule, current: bytes | None) -> bytes:
    """Return a client-subnet option's data for the client's address (RFC 7871)."""
    client = ipaddress.ip_address(state.req.remote[0].split("%")[0])
    family, bits = (1, rule.v4_prefix) if client.version == 4 else (2, rule.v6_prefix)
    if current is not None and len(current) >= 3:
        bits = min(bits, current[2])  # CoreDNS keeps a shorter source prefix the client chose
    network = ipaddress.ip_network(f"{client}/{bits}", strict=False)
    address = network.network_address.packed[: (bits + 7) // 8]
    return family.to_bytes(2, "big") + bytes((bits, 0)) + address


def _edns_rule(
    rule: EdnsLocalRule | EdnsNsidRule | EdnsSubnetRule, state: State
) -> list[ResponseRule] | None:
    if isinstance(rule, EdnsLocalRule):
        code, data = rule.code, rule.data
        if rule.variable is not None and rule.action != "unset":
            found = variable(rule.variable, state)
            if found is None:
                return None
            data = found
    elif isinstance(rule, EdnsNsidRule):
        code, data = NSID, b""
    else:
        code = SUBNET
        at = state.find(code)
        data = subnet_data(state, rule, None if at is None else state.options[at].data)
    original = state.original(code)
    if not _set_option(state, rule.action, code, data):
        return None
    state.changed = True
    return [OptionBack(code, original)] if rule.revert else []


def apply(rule: Rule, state: State) -> list[ResponseRule] | None:
    """Apply one rule to the query; return its reply rewrites, or None if it did not apply."""
    if isinstance(rule, NameRule):
        return _name_rule(rule, state)
    if isinstance(rule, TypeRule):
        if state.qtype != QTYPES[rule.from_type]:
            return None
        state.qtype, state.changed = QTYPES[rule.to_type], True
        return []
    if isinstance(rule, ClassRule):
        if state.qclass != QCLASSES[rule.from_class]:
            return None
        state.qclass, state.changed = QCLASSES[rule.to_class], True
        return []
    if isinstance(rule, TtlRule):
        if not matches(rule.match, state.qname):
            return None
        return [TtlClamp(rule.minimum, rule.maximum)]
    if isinstance(rule, RcodeRule):
        if not matches(rule.match, state.qname):
            return None
        return [RcodeSwap(rule.from_rcode, rule.to_rcode)]
    if isinstance(rule, CnameRule):
        return [CnameFollow(rule, state.qtype)]
    return _edns_rule(rule, state)
