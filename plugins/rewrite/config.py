"""rewrite: syntax, as CoreDNS's rewrite plugin reads it.

Each `rewrite` directive is one rule. Its words are those of the directive's line; when the
line has fewer than two arguments, the words of its block are appended, in order, with the
line structure of the block ignored (as CoreDNS does). So

    rewrite stop {
        name regex (.*)\\.a\\.example\\. {1}.b.example.
        answer name (.*)\\.b\\.example\\. {1}.a.example.
    }

is one `name` rule with an `answer name` option.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.addresses import fqdn
from kdns.corefile.errors import did_you_mean
from kdns.corefile.mnemonics import RCODES, qclass_name, qtype_name
from kdns.corefile.syntax import choice, regex

Mode = Literal["stop", "continue"]
MatchType = Literal["exact", "prefix", "suffix", "substring", "regex"]
EdnsAction = Literal["set", "append", "replace", "unset"]

MODES: tuple[Mode, ...] = ("stop", "continue")
MATCH_TYPES: tuple[MatchType, ...] = ("exact", "prefix", "suffix", "substring", "regex")
EDNS_ACTIONS: tuple[EdnsAction, ...] = ("set", "append", "replace", "unset")
FIELDS = ("name", "type", "class", "edns0", "ttl", "cname", "rcode")
#: The variables an EDNS0 local option's data may name.
EDNS_VARIABLES = (
    "{qname}",
    "{qtype}",
    "{client_ip}",
    "{client_port}",
    "{protocol}",
    "{server_ip}",
    "{server_port}",
)
#: The largest TTL a `ttl` range open at the top allows (2^31 - 1, RFC 2181).
MAX_TTL = 2147483647
#: The highest response code a `rcode` rule takes as a number.
MAX_RCODE = 23


@dataclass(frozen=True, slots=True)
class NameMatch:
    """How a rule matches a name: the match type and the name or pattern to match.

    For `regex`, `value` is the pattern as written and `pattern` is it compiled; otherwise
    `value` is lower case and, except for `cname` rules, fully qualified.
    """

    kind: MatchType
    value: str
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class AnswerRule:
    """`answer name|value FROM TO`: rewrite names (or record values) in the reply.

    `{N}` in `replacement` stands for the Nth group of `pattern`.
    """

    field: Literal["name", "value"]
    pattern: re.Pattern[str]
    replacement: str


@dataclass(frozen=True, slots=True)
class NameRule:
    """`name`: rewrite the query name; `auto` maps it back in the reply (always for exact)."""

    match: NameMatch
    replacement: str
    auto: bool = False
    answers: tuple[AnswerRule, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeRule:
    """`type FROM TO`: rewrite the query type."""

    from_type: str
    to_type: str


@dataclass(frozen=True, slots=True)
class ClassRule:
    """`class FROM TO`: rewrite the query class."""

    from_class: str
    to_class: str


@dataclass(frozen=True, slots=True)
class EdnsLocalRule:
    """`edns0 local ACTION CODE [DATA]`: a local-use EDNS0 option of the query.

    The data is `data`, or, when `variable` is set (`{client_ip}`, a metadata label...), the
    value of that variable for each query. `revert` restores the option in the reply.
    """

    action: EdnsAction
    code: int
    data: bytes = b""
    variable: str | None = None
    revert: bool = False


@dataclass(frozen=True, slots=True)
class EdnsNsidRule:
    """`edns0 nsid ACTION`: the (empty) NSID option of the query."""

    action: EdnsAction
    revert: bool = False


@dataclass(frozen=True, slots=True)
class EdnsSubnetRule:
    """`edns0 subnet ACTION V4BITS V6BITS`: a client-subnet option from the client's address."""

    action: EdnsAction
    v4_prefix: int = 0
    v6_prefix: int = 0
    revert: bool = False


@dataclass(frozen=True, slots=True)
class TtlRule:
    """`ttl [TYPE] NAME SECONDS|MIN-MAX`: clamp the TTLs of the reply into a range."""

    match: NameMatch
    minimum: int
    maximum: int


@dataclass(frozen=True, slots=True)
class CnameRule:
    """`cname [TYPE] FROM TO`: rewrite CNAME targets in the reply and resolve the new target."""

    match: NameMatch
    replacement: str


@dataclass(frozen=True, slots=True)
class RcodeRule:
    """`rcode [TYPE] NAME FROM TO`: change the response code of the reply."""

    match: NameMatch
    from_rcode: int
    to_rcode: int


Rule: TypeAlias = (
    NameRule
    | TypeRule
    | ClassRule
    | EdnsLocalRule
    | EdnsNsidRule
    | EdnsSubnetRule
    | TtlRule
    | CnameRule
    | RcodeRule
)


@dataclass(frozen=True, slots=True)
class RewriteConfig:
    """One rewrite rule and what happens after it matches: `stop` or `continue`."""

    rule: Rule
    mode: Mode = "stop"


def _count(words: Sequence[Word], allowed: tuple[int, ...], at: Word, message: str) -> None:
    """Raise `message` unless there are an allowed number of words."""
    if len(words) not in allowed:
        where = words[max(allowed)] if len(words) > max(allowed) else at
        raise CorefileError(message, where.pos)


def _match_type(word: Word, field: str) -> MatchType:
    return choice(word.with_text(word.text.lower()), MATCH_TYPES, f"{field} match type")


def _pattern(word: Word, replacement: str | None = None) -> re.Pattern[str]:
    """Compile a regex; `replacement` may not use more `{N}` groups than it has."""
    compiled = regex(word, "regular expression")
    if replacement is not None:
        used = sum(1 for i in range(101) if "{" + str(i) + "}" in replacement)
        if used > compiled.groups:
            raise CorefileError(
                f"the replacement '{replacement}' uses more groups ({used}) than the regular "
                f"expression '{word.text}' has ({compiled.groups})",
                word.pos,
            )
    return compiled


def _name_match(kind: MatchType, word: Word, replacement: str | None = None) -> NameMatch:
    if kind == "regex":
        return NameMatch(kind, word.text, _pattern(word, replacement))
    return NameMatch(kind, fqdn(word.text))


def _answers(words: Sequence[Word]) -> tuple[bool, tuple[AnswerRule, ...]]:
    """Read `answer auto | answer name|value FROM TO`, repeated; later `answer`s are optional."""
    if words[0].text != "answer":
        raise CorefileError(
            f"unexpected argument '{words[0].text}': options after FROM TO start with 'answer'",
            words[0].pos,
        )
    if len(words) < 2:
        raise CorefileError(
            "missing answer type after 'answer': expected auto, name or value", words[0].pos
        )
    auto = False
    rules: list[AnswerRule] = []
    i = 0
    while i < len(words):
        if words[i].text == "answer":
            i += 1
        if i == len(words):
            raise CorefileError(
                "missing answer type after 'answer': expected auto, name or value",
                words[i - 1].pos,
            )
        option = words[i]
        i += 1
        if option.text == "auto":
            auto = True
        elif option.text in ("name", "value"):
            if len(words) - i < 2:
                raise CorefileError(
                    f"'answer {option.text}' needs two arguments: FROM (a regular expression) "
                    "and TO",
                    option.pos,
                )
            to = fqdn(words[i + 1].text)
            field: Literal["name", "value"] = "name" if option.text == "name" else "value"
            rules.append(AnswerRule(field, _pattern(words[i], to), to))
            i += 2
        else:
            raise CorefileError(
                f"invalid answer type '{option.text}' - expected auto, name or value",
                option.pos,
            )
    if auto and any(r.field == "name" for r in rules):
        raise CorefileError(
            "'answer auto' cannot be combined with 'answer name' options", words[0].pos
        )
    return auto, tuple(rules)


def _name_rule(words: Sequence[Word], field: Word) -> NameRule:
    if len(words) < 2:
        raise CorefileError(
            "too few arguments for a name rule: write name [TYPE] FROM TO",
            (words[-1] if words else field).pos,
        )
    if len(words) == 2:
        return NameRule(NameMatch("exact", fqdn(words[0].text)), fqdn(words[1].text), True)
    kind = _match_type(words[0], "name")
    source, target = words[1], words[2]
    auto, answers = _answers(words[3:]) if len(words) > 3 else (False, ())
    replacement = fqdn(target.text)
    match = _name_match(kind, source, target.text)
    # Exact rules always map the answer back to the name asked for.
    return NameRule(match, replacement, auto or kind == "exact", answers)


def _type(word: Word) -> str:
    return qtype_name(word, what="type", any_case=True)


def _class(word: Word) -> str:
    return qclass_name(word, what="class", any_case=True)


def _code(word: Word, what: str, maximum: int) -> int:
    """Read an unsigned integer as Go's ParseUint with base 0 does (0x.., 0o.., 0b.., 0..)."""
    text = word.text
    try:
        value = int(text, 8) if re.fullmatch(r"0[0-7]+", text) else int(text, 0)
    except ValueError:
        raise CorefileError(f"{what} '{word.text}' is not a number", word.pos) from None
    if not 0 <= value <= maximum:
        raise CorefileError(
            f"{what} {value} is out of range: it must be between 0 and {maximum}", word.pos
        )
    return value


def _local_data(word: Word) -> tuple[bytes, str | None]:
    text = word.text
    if text.startswith("{") and text.endswith("}"):
        label = text[1:-1]
        slash = label.find("/")
        if text not in EDNS_VARIABLES and not 0 < slash < len(label) - 1:
            raise CorefileError(
                f"unsupported variable name '{text}' - expected one of "
                f"{', '.join(EDNS_VARIABLES)} or a metadata label {{plugin/label}}",
                word.pos,
            )
        return b"", text
    if text.startswith("0x"):
        digits = text[2:]
        if len(digits) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", digits):
            raise CorefileError(
                f"'{text}' is not valid hexadecimal data: write an even number of hex digits "
                "after 0x",
                word.pos,
            )
        return bytes.fromhex(digits), None
    return text.encode(), None


def _edns0_rule(
    words: Sequence[Word], field: Word
) -> EdnsLocalRule | EdnsNsidRule | EdnsSubnetRule:
    if len(words) < 2:
        raise CorefileError(
            "too few arguments for an EDNS0 rule: write edns0 local|nsid|subnet ACTION ...",
            (words[-1] if words else field).pos,
        )
    kind, action_word = words[0], words[1]
    action = choice(action_word.with_text(action_word.text.lower()), EDNS_ACTIONS, "action")
    revert = False
    if words[-1].text == "revert":
        words, revert = words[:-1], True
    match kind.text.lower():
        case "local":
            if action == "unset":
                _count(words, (3,), words[-1], "EDNS0 local unset rules take one argument: CODE")
                return EdnsLocalRule(action, _code(words[2], "option code", 0xFFFF), revert=revert)
            _count(words, (4,), words[-1], "EDNS0 local rules take two arguments: CODE DATA")
            code = _code(words[2], "option code", 0xFFFF)
            data, variable = _local_data(words[3])
            return EdnsLocalRule(action, code, data, variable, revert)
        case "nsid":
            _count(words, (2,), words[-1], "EDNS0 nsid rules take no arguments")
            return EdnsNsidRule(action, revert)
        case "subnet":
            if action == "unset":
                _count(words, (2,), words[-1], "EDNS0 subnet unset rules take no arguments")
                return EdnsSubnetRule(action, revert=revert)
            _count(
                words, (4,), words[-1],
                "EDNS0 subnet rules take two arguments: V4BITS V6BITS",
            )  # fmt: skip
            v4 = _code(words[2], "IPv4 prefix length", 32)
            v6 = _code(words[3], "IPv6 prefix length", 128)
            return EdnsSubnetRule(action, v4, v6, revert)
        case _:
            raise CorefileError(
                f"invalid EDNS0 rule type '{kind.text}' - expected local, nsid or subnet",
                kind.pos,
            )


def _ttl_range(word: Word) -> tuple[int, int]:
    """Read SECONDS, MIN-MAX, MIN- or -MAX, as unsigned 32-bit numbers."""
    parts = word.text.split("-")
    bad = CorefileError(
        f"invalid TTL '{word.text}' for a ttl rule: write SECONDS, MIN-MAX, MIN- or -MAX",
        word.pos,
    )

    def number(text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text) or int(text) > 0xFFFFFFFF:
            raise bad
        return int(text)

    if len(parts) == 1:
        value = number(parts[0])
        return value, value
    if len(parts) != 2 or parts == ["", ""]:
        raise bad
    low = number(parts[0]) if parts[0] else 0
    high = number(parts[1]) if parts[1] else MAX_TTL
    if low > high:
        raise bad
    return low, high


def _ttl_rule(words: Sequence[Word], field: Word) -> TtlRule:
    if len(words) < 2:
        raise CorefileError(
            "too few arguments for a ttl rule: write ttl [TYPE] NAME SECONDS|MIN-MAX",
            (words[-1] if words else field).pos,
        )
    _count(words, (2, 3), words[-1], "too many arguments for a ttl rule")
    low, high = _ttl_range(words[-1])
    if len(words) == 2:
        return TtlRule(NameMatch("exact", fqdn(words[0].text)), low, high)
    return TtlRule(_name_match(_match_type(words[0], "ttl"), words[1]), low, high)


def _rcode(word: Word, what: str) -> int:
    if re.fullmatch(r"[0-9]+", word.text) and int(word.text) <= MAX_RCODE:
        return int(word.text)
    if word.text.upper() in RCODES:
        return RCODES[word.text.upper()]
    raise CorefileError(
        f"invalid {what} RCODE '{word.text}' for a rcode rule - expected a number from 0 to "
        f"{MAX_RCODE} or a name such as NOERROR, SERVFAIL or NXDOMAIN",
        word.pos,
    )


def _rcode_rule(words: Sequence[Word], field: Word) -> RcodeRule:
    if len(words) < 3:
        raise CorefileError(
            "too few arguments for a rcode rule: write rcode [TYPE] NAME FROM TO",
            (words[-1] if words else field).pos,
        )
    _count(words, (3, 4), words[-1], "too many arguments for a rcode rule")
    old = _rcode(words[-2], "matching")
    new = _rcode(words[-1], "replacement")
    if len(words) == 3:
        return RcodeRule(NameMatch("exact", fqdn(words[0].text)), old, new)
    return RcodeRule(_name_match(_match_type(words[0], "rcode"), words[1]), old, new)


def _cname_rule(words: Sequence[Word], field: Word) -> CnameRule:
    if len(words) not in (2, 3):
        where = words[3] if len(words) > 3 else (words[-1] if words else field)
        raise CorefileError(
            f"a cname rule takes two or three arguments, not {len(words)}: write "
            "cname [TYPE] FROM TO",
            where.pos,
        )
    kind: MatchType = "exact" if len(words) == 2 else _match_type(words[0], "cname")
    source, target = words[-2], words[-1]
    if kind == "regex":
        match = NameMatch(
            kind, source.text.lower(), _pattern(source.with_text(source.text.lower()))
        )
    else:
        match = NameMatch(kind, source.text.lower())
    return CnameRule(match, target.text.lower())


def _words(d: Directive) -> tuple[Word, ...]:
    """Return the rule's words: the line's, then (with fewer than two) the block's."""
    if d.block is None:
        return d.args
    if len(d.args) >= 2:
        raise CorefileError(
            "a rewrite rule is written either on the line or in the block: a block is only "
            "read when the line has fewer than two arguments",
            d.open_pos or d.pos,
        )
    words = list(d.args)
    for prop in d.properties():
        if prop.block is not None:
            raise CorefileError(
                "a rewrite rule's block cannot hold a block", prop.open_pos or prop.pos
            )
        words.extend(prop.words)
    return tuple(words)


def parse(d: Directive, ctx: BlockContext) -> RewriteConfig:
    """Parse `rewrite [continue|stop] FIELD ...`, on one line or in a block."""
    words = _words(d)
    if not words:
        raise CorefileError(
            "no rule type specified for rewrite - expected one of " + ", ".join(FIELDS),
            d.name.pos,
        )
    mode: Mode = "stop"
    if words[0].text.lower() in MODES:
        mode = "continue" if words[0].text.lower() == "continue" else "stop"
        if len(words) < 2:
            raise CorefileError(
                f"missing rule type after '{words[0].text}' - expected one of " + ", ".join(FIELDS),
                words[0].pos,
            )
        words = words[1:]
    field, rest = words[0], words[1:]
    rule: Rule
    match field.text.lower():
        case "answer":
            raise CorefileError(
                "response rewrites must begin with a name rule: put 'answer' after "
                "'name [TYPE] FROM TO'",
                field.pos,
            )
        case "name":
            rule = _name_rule(rest, field)
        case "type":
            _count(
                rest,
                (2,),
                rest[-1] if rest else field,
                "type rules take exactly two arguments: FROM TO",
            )
            rule = TypeRule(_type(rest[0]), _type(rest[1]))
        case "class":
            _count(
                rest,
                (2,),
                rest[-1] if rest else field,
                "class rules take exactly two arguments: FROM TO",
            )
            rule = ClassRule(_class(rest[0]), _class(rest[1]))
        case "edns0":
            rule = _edns0_rule(rest, field)
        case "ttl":
            rule = _ttl_rule(rest, field)
        case "cname":
            rule = _cname_rule(rest, field)
        case "rcode":
            rule = _rcode_rule(rest, field)
        case _:
            hint = did_you_mean(field.text, FIELDS) or " - expected one of " + ", ".join(FIELDS)
            raise CorefileError(f"invalid rule type '{field.text}'{hint}", field.pos)
    return RewriteConfig(rule, mode)
