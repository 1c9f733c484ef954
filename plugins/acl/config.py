"""acl: syntax, as CoreDNS's acl plugin reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.mnemonics import qtype
from kdns.corefile.syntax import Args, IPNetwork, choice, cidr, zones

Action = Literal["allow", "block", "filter", "drop"]
ACTIONS: tuple[Action, ...] = ("allow", "block", "filter", "drop")
SECTIONS = ("type", "net")


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
        qtypes = tuple(dict.fromkeys(qtype(w) for w in types))
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
