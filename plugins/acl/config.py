"""acl: syntax, as CoreDNS's acl plugin reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.errors import did_you_mean
from kdns.corefile.syntax import Args, IPNetwork, choice, cidr, zones

Action = Literal["allow", "block", "filter", "drop"]
ACTIONS: tuple[Action, ...] = ("allow", "block", "filter", "drop")
SECTIONS = ("type", "net")

#: miekg/dns StringToType: the query type names acl accepts (upper case, as CoreDNS reads them).
QTYPES: dict[str, int] = {
    "A": 1, "NS": 2, "MD": 3, "MF": 4, "CNAME": 5, "SOA": 6, "MB": 7, "MG": 8, "MR": 9,
    "NULL": 10, "PTR": 12, "HINFO": 13, "MINFO": 14, "MX": 15, "TXT": 16, "RP": 17,
    "AFSDB": 18, "X25": 19, "ISDN": 20, "RT": 21, "NSAPPTR": 23, "SIG": 24, "KEY": 25,
    "PX": 26, "GPOS": 27, "AAAA": 28, "LOC": 29, "NXT": 30, "EID": 31, "NIMLOC": 32,
    "SRV": 33, "ATMA": 34, "NAPTR": 35, "KX": 36, "CERT": 37, "DNAME": 39, "OPT": 41,
    "APL": 42, "DS": 43, "SSHFP": 44, "IPSECKEY": 45, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48,
    "DHCID": 49, "NSEC3": 50, "NSEC3PARAM": 51, "TLSA": 52, "SMIMEA": 53, "HIP": 55,
    "NINFO": 56, "RKEY": 57, "TALINK": 58, "CDS": 59, "CDNSKEY": 60, "OPENPGPKEY": 61,
    "CSYNC": 62, "ZONEMD": 63, "SVCB": 64, "HTTPS": 65, "SPF": 99, "UINFO": 100, "UID": 101,
    "GID": 102, "UNSPEC": 103, "NID": 104, "L32": 105, "L64": 106, "LP": 107, "EUI48": 108,
    "EUI64": 109, "NXNAME": 128, "TKEY": 249, "TSIG": 250, "IXFR": 251, "AXFR": 252,
    "MAILB": 253, "MAILA": 254, "ANY": 255, "URI": 256, "CAA": 257, "AVC": 258,
    "AMTRELAY": 260, "RESINFO": 261, "TA": 32768, "DLV": 32769,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AclPolicy:
    """One line of an acl block: an action for queries of `qtypes` from `nets`.

    None means every query type / every source address.
    """

    action: Action
    qtypes: tuple[int, ...] | None = None
    nets: tuple[IPNetwork, ...] | None = None


@dataclass(frozen=True, slots=True)
class AclConfig:
    """One acl rule: for queries in `zones`, the first matching policy decides."""

    zones: tuple[str, ...]
    policies: tuple[AclPolicy, ...] = ()


def _qtype(word: Word) -> int:
    code = QTYPES.get(word.text)
    if code is not None:
        return code
    if word.text.upper() in QTYPES:
        hint = f" - query types are upper case: write '{word.text.upper()}'"
    else:
        hint = did_you_mean(word.text.upper(), QTYPES) or " - use a type name such as A or AAAA"
    raise CorefileError(f"unknown query type '{word.text}'{hint}", word.pos)


def _missing(section: Word) -> CorefileError:
    what = "QTYPE" if section.text.lower() == "type" else "SOURCE"
    return CorefileError(f"missing {what} after '{section.text}'", section.pos)


def _sections(line: Directive) -> dict[str, list[Word]]:
    found: dict[str, list[Word]] = {}
    args = Args(line)
    section: Word | None = None
    while args:
        word = args.next("")
        if word.text.lower() in SECTIONS:
            if section is not None and not found[section.text.lower()]:
                raise _missing(section)
            section = word
            found.setdefault(word.text.lower(), [])
        elif section is None:
            raise CorefileError(
                f"unexpected '{word.text}' after '{line.keyword}': expected 'type' or 'net'",
                word.pos,
            )
        else:
            found[section.text.lower()].append(word)
    if section is not None and not found[section.text.lower()]:
        raise _missing(section)
    return found


def _policy(line: Directive) -> AclPolicy:
    action = choice(line.name.with_text(line.keyword.lower()), ACTIONS, "action")
    line.no_block()
    sections = _sections(line)
    qtypes: tuple[int, ...] | None = None
    nets: tuple[IPNetwork, ...] | None = None
    types = sections.get("type")
    if types is not None and all(w.text != "*" for w in types):
        qtypes = tuple(dict.fromkeys(_qtype(w) for w in types))
    sources = sections.get("net")
    if sources is not None:
        parsed = [None if w.text == "*" else cidr(w, "source network") for w in sources]
        if None not in parsed:
            nets = tuple(dict.fromkeys(n for n in parsed if n is not None))
    return AclPolicy(action, qtypes, nets)


def parse(d: Directive, ctx: BlockContext) -> AclConfig:
    """Parse `acl [ZONES...] { ACTION [type QTYPE...] [net SOURCE...] }`."""
    return AclConfig(
        zones=zones(Args(d).rest(), ctx),
        policies=tuple(_policy(line) for line in d.properties()),
    )
