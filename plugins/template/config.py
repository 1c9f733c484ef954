"""template: syntax and defaults, as CoreDNS's template plugin reads them.

Go templates are kept as text, after compiling them once to reject what kdns cannot run (the
handler compiles them again when it is built). Match expressions are compiled, since Go's RE2
syntax is, for what templates use, Python's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.mnemonics import qclass_name, qtype_name, rcode
from kdns.corefile.syntax import (
    Args,
    Fallthrough,
    fallthrough,
    integer,
    regex,
    several,
    single,
    zones,
)
from kdns.plugins.template.gotemplate import TemplateSyntaxError, compile_template

PROPERTIES = (
    "match",
    "answer",
    "additional",
    "authority",
    "rcode",
    "ederror",
    "var",
    "expr",
    "fallthrough",
    "upstream",
)
MATCH_ALL = re.compile(".*")
#: Why a template with `var` or `expr` cannot be served (the expr language is not in kdns).
UNSERVED_EXPR = (
    "kdns does not evaluate the expr language: 'var' and 'expr' are checked but a server "
    "with them fails to start"
)
_VAR_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: Words of the expr language that cannot name a variable.
_EXPR_KEYWORDS = frozenset(
    {"true", "false", "nil", "not", "and", "or", "in", "matches", "contains",
     "startsWith", "endsWith", "let", "if", "else"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExtendedError:
    """An Extended DNS Error (RFC 8914) to add to the reply: its code and optional text."""

    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Variable:
    """A named expr-language expression, evaluated per query and visible to templates."""

    name: str
    expression: str


@dataclass(frozen=True, slots=True)
class TemplateConfig:
    """One template: which queries it answers and the (unexecuted) Go templates to answer with."""

    qclass: str
    qtype: str
    zones: tuple[str, ...]
    match: tuple[re.Pattern[str], ...] = (MATCH_ALL,)
    answer: tuple[str, ...] = ()
    additional: tuple[str, ...] = ()
    authority: tuple[str, ...] = ()
    rcode: int = 0
    ederror: ExtendedError | None = None
    variables: tuple[Variable, ...] = ()
    expressions: tuple[str, ...] = ()
    fallthrough: Fallthrough | None = None


def check_template(word: Word) -> str:
    """Return a Go template's text after checking that kdns can compile and run it."""
    text = word.text
    try:
        compile_template(text)
    except TemplateSyntaxError as exc:
        raise CorefileError(
            f"could not compile template '{text}': {exc} (at character {exc.offset + 1})",
            word.pos,
        ) from None
    return text


def _templates(prop: Directive) -> tuple[str, ...]:
    return tuple(check_template(w) for w in several(prop, "RR template"))


def _ederror(prop: Directive) -> ExtendedError:
    prop.no_block()
    args = Args(prop)
    code = integer(args.next("CODE"), minimum=0, maximum=65535, what="extended DNS error code")
    reason = args.optional()
    args.end()
    return ExtendedError(code, reason.text if reason else "")


def _variable(prop: Directive) -> Variable:
    prop.no_block()
    args = Args(prop)
    word = args.next("NAME")
    args.next("EXPRESSION")
    if not _VAR_NAME.fullmatch(word.text):
        raise CorefileError(
            f"invalid variable name '{word.text}': use letters, digits and _, "
            "not starting with a digit",
            word.pos,
        )
    if word.text in _EXPR_KEYWORDS:
        raise CorefileError(f"variable name '{word.text}' is reserved", word.pos)
    return Variable(word.text, " ".join(w.text for w in prop.args[1:]))


def parse(d: Directive, ctx: BlockContext) -> TemplateConfig:
    """Parse `template CLASS TYPE [ZONE...] { ... }`."""
    args = Args(d)
    qclass = qclass_name(args.next("CLASS"))
    qtype = qtype_name(args.next("TYPE"))
    config = TemplateConfig(qclass, qtype, zones(args.rest(), ctx))
    matches: list[re.Pattern[str]] = []
    for prop in d.properties():
        match prop.keyword:
            case "match":
                matches.extend(regex(w) for w in several(prop, "REGEX"))
            case "answer":
                config = replace(config, answer=config.answer + _templates(prop))
            case "additional":
                config = replace(config, additional=config.additional + _templates(prop))
            case "authority":
                config = replace(config, authority=config.authority + _templates(prop))
            case "rcode":
                config = replace(config, rcode=rcode(single(prop, "CODE")))
            case "ederror":
                config = replace(config, ederror=_ederror(prop))
            case "var":
                config = replace(config, variables=(*config.variables, _variable(prop)))
                ctx.warn(prop.pos, UNSERVED_EXPR)
            case "expr":
                text = " ".join(w.text for w in several(prop, "EXPRESSION"))
                config = replace(config, expressions=(*config.expressions, text))
                ctx.warn(prop.pos, UNSERVED_EXPR)
            case "fallthrough":
                config = replace(config, fallthrough=fallthrough(prop))
            case "upstream":
                prop.no_block()
                ctx.warn(
                    prop.pos,
                    "'upstream' is ignored: CNAME answers are always resolved through the "
                    "server itself",
                )
            case _:
                raise prop.unknown(PROPERTIES)
    if matches:
        config = replace(config, match=tuple(matches))
    return config
