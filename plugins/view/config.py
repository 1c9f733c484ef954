"""view: syntax, as CoreDNS's view plugin reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from kdns.corefile import BlockContext, CorefileError, Directive, Position, Word
from kdns.corefile.syntax import Args, several
from kdns.plugins.view.expr import ExprError, Program, compile_expression

_CLOSE = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class ViewConfig:
    """A named filter: a query enters the block only if every expression is true.

    The expressions are kept as written (in the expr language CoreDNS uses, such as
    `incidr(client_ip(), '10.0.0.0/8')`) and compiled, one program each; no expressions
    admits every query.
    """

    name: str
    expressions: tuple[str, ...] = ()
    programs: tuple[Program, ...] = field(default=(), compare=False, repr=False)

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


def where(words: tuple[Word, ...], offset: int) -> Position:
    """Return the Corefile position of character `offset` of the words joined by spaces."""
    for word in words:
        if offset <= len(word.text):
            pos = word.pos
            return Position(pos.file, pos.line, pos.column + offset + int(word.quoted))
        offset -= len(word.text) + 1
    return words[-1].pos


def compile_words(words: tuple[Word, ...]) -> tuple[str, Program]:
    """Join an `expr` line's words into the expression and compile it (errors at file:line:col)."""
    text = check_expression(" ".join(w.text for w in words), words[0])
    try:
        return text, compile_expression(text)
    except ExprError as exc:
        hint = ""
        if len(words) > 1 and any(w.quoted for w in words):
            hint = (
                " (the Corefile removes the double quotes around a word: write the strings of "
                "an expression in single quotes)"
            )
        raise CorefileError(
            f"expression '{text}': {exc.message}{hint}", where(words, exc.offset)
        ) from None


def parse(d: Directive, ctx: BlockContext) -> ViewConfig:
    """Parse `view NAME { expr EXPRESSION ... }`, compiling each expression."""
    args = Args(d)
    name = args.next("NAME").text
    args.end()
    expressions: list[str] = []
    programs: list[Program] = []
    for prop in d.properties():
        if prop.keyword != "expr":
            raise prop.unknown(("expr",))
        text, program = compile_words(several(prop, "EXPRESSION"))
        expressions.append(text)
        programs.append(program)
    return ViewConfig(name, tuple(expressions), tuple(programs))
