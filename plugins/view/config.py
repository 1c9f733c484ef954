"""view: syntax, as CoreDNS's view plugin reads it."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.syntax import Args, several

_CLOSE = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class ViewConfig:
    """A named filter: a query enters the block only if every expression is true.

    The expressions are kept as written (in the expr language CoreDNS uses, such as
    `incidr(client_ip(), '10.0.0.0/8')`); no expressions admits every query.
    """

    name: str
    expressions: tuple[str, ...] = ()

    def filter_name(self) -> str:
        """Return the view's name (for metrics and the `view/name` metadata)."""
        return self.name


def check_expression(text: str, word: Word) -> str:
    """Check that an expression is not empty, its strings end and its brackets balance."""
    stack: list[str] = []
    quote = ""
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote != "`":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in _CLOSE:
            stack.append(_CLOSE[ch])
        elif ch in ")]}" and (not stack or stack.pop() != ch):
            raise CorefileError(f"expression '{text}' has an unmatched '{ch}'", word.pos)
    if quote:
        raise CorefileError(f"expression '{text}' has a string with no closing {quote}", word.pos)
    if stack:
        raise CorefileError(f"expression '{text}' is missing a closing '{stack[-1]}'", word.pos)
    return text


def parse(d: Directive, ctx: BlockContext) -> ViewConfig:
    """Parse `view NAME { expr EXPRESSION ... }`."""
    args = Args(d)
    name = args.next("NAME").text
    args.end()
    expressions: list[str] = []
    for prop in d.properties():
        if prop.keyword != "expr":
            raise prop.unknown(("expr",))
        words = several(prop, "EXPRESSION")
        expressions.append(check_expression(" ".join(w.text for w in words), words[0]))
    return ViewConfig(name, tuple(expressions))
