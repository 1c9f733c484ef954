"""A small compiler for the Go text/template forms the template plugin's records use.

It covers literal text, `{{ pipeline }}` actions with trim markers and comments, fields
(`.Name`, `.Group.name`), string and number literals, parentheses, pipes and the functions
`index`, `len`, `print`, `printf` and `parseInt`, plus the `.Meta "name"` method. Control
actions (`if`, `range`, `with`...) and `$variables` are rejected when the template is
compiled, so a Corefile using them fails `kdns check` instead of failing per query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from kdns.plugins.template.gofuncs import (
    FUNCTIONS_BY_NAME,
    NO_VALUE,
    TemplateExecError,
    go_str,
)

#: The fields a template's data has, as CoreDNS's templateData names them.
FIELDS = frozenset(
    {"Zone", "Name", "Regex", "Match", "Group", "Class", "Type", "Message", "Question", "Remote",
     "Var", "Meta"}
)  # fmt: skip
#: Fields of `.Question` and `.Message` that can be read (miekg/dns struct fields).
SUBFIELDS = {"Question": frozenset({"Name", "Qtype", "Qclass"}), "Message": frozenset({"Id"})}
FUNCTIONS = frozenset({"index", "len", "print", "printf", "parseInt"})
CONTROL = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
     "nil"}
)  # fmt: skip
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[-+]?(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]*|0[bB][01_]+|[0-9][0-9_]*)")


class TemplateSyntaxError(ValueError):
    """A template that cannot be compiled; `offset` is where in its text the problem is."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Field:
    """`.A.B`: a path into the data; the empty path is `.` itself."""

    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number or boolean constant."""

    value: str | int | bool


@dataclass(frozen=True, slots=True)
class Func:
    """A function name in first position of a command."""

    name: str


@dataclass(frozen=True, slots=True)
class Sub:
    """A parenthesised pipeline."""

    pipeline: Pipeline


Node: TypeAlias = Field | Literal | Func | Sub
Command: TypeAlias = tuple[Node, ...]
Pipeline: TypeAlias = tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template: literal text and pipelines, in order."""

    text: str
    parts: tuple[str | Pipeline, ...]

    def render(self, data: Mapping[str, object]) -> str:
        """Fill the template in with `data`; raise TemplateExecError when that fails."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(go_str(_pipeline(part, data)))
        return "".join(out)


# -- compiling -------------------------------------------------------------------------------


class _Lexer:
    """Reads the tokens of one action, from just after `{{` to its `}}`."""

    def __init__(self, text: str, at: int) -> None:
        self.text = text
        self.at = at
        self.trim_right = False

    def error(self, message: str, at: int | None = None) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, self.at if at is None else at)

    def next(self) -> tuple[str, object, int]:
        """Return (kind, value, offset); kind is one of ( ) | field lit func end."""
        text = self.text
        while self.at < len(text) and text[self.at] in " \t\r\n":
            self.at += 1
        start = self.at
        if start >= len(text):
            raise self.error("unclosed action", start)
        ch = text[start]
        if text.startswith("}}", start):
            self.at += 2
            return "end", None, start
        if ch == "-" and text.startswith("-}}", start) and text[start - 1] in " \t\r\n":
            self.at += 3
            self.trim_right = True
            return "end", None, start
        if ch in "()|":
            self.at += 1
            return ch, None, start
        if ch == '"':
            return "lit", self._quoted(), start
        if ch == "`":
            end = text.find("`", start + 1)
            if end < 0:
                raise self.error("unterminated raw quoted string", start)
            self.at = end + 1
            return "lit", text[start + 1 : end], start
        if ch == ".":
            self.at += 1
            path: list[str] = []
            while True:
                m = _IDENT.match(text, self.at)
                if m is None:
                    break
                path.append(m.group())
                self.at = m.end()
                if not text.startswith(".", self.at) or _IDENT.match(text, self.at + 1) is None:
                    break
                self.at += 1
            return "field", tuple(path), start
        if ch == "$":
            raise self.error("template variables ($x) are not supported by kdns", start)
        m = _NUMBER.match(text, start)
        if m is not None and (ch.isdigit() or (ch in "+-" and m.end() > start + 1)):
            self.at = m.end()
            try:
                return "lit", int(m.group().replace("_", ""), 0), start
            except ValueError:
                return "lit", int(m.group().replace("_", ""), 8), start
        m = _IDENT.match(text, start)
        if m is not None:
            self.at = m.end()
            word = m.group()
            if word in ("true", "false"):
                return "lit", word == "true", start
            if word in CONTROL:
                raise self.error(f"'{{{{ {word} }}}}' actions are not supported by kdns", start)
            if word not in FUNCTIONS:
                raise self.error(f'function "{word}" not defined', start)
            return "func", word, start
        raise self.error(f"unexpected {ch!r} in action", start)

    def _quoted(self) -> str:
        text, at = self.text, self.at + 1
        out: list[str] = []
        escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
                   "b": "\b", "f": "\f", "v": "\v"}  # fmt: skip
        while at < len(text):
            ch = text[at]
            if ch == '"':
                self.at = at + 1
                return "".join(out)
            if ch == "\\" and at + 1 < len(text):
                code = text[at + 1]
                width = {"x": 2, "u": 4, "U": 8}.get(code)
                if code in escapes:
                    out.append(escapes[code])
                    at += 2
                    continue
                digits = text[at + 2 : at + 2 + width] if width else ""
                if width and len(digits) == width and re.fullmatch(r"[0-9a-fA-F]+", digits):
                    out.append(chr(int(digits, 16)))
                    at += 2 + width
                    continue
                raise self.error(f"unknown escape sequence '\\{code}'", at)
            out.append(ch)
            at += 1
        raise self.error("unterminated quoted string", self.at)


def _check_field(path: tuple[str, ...], at: int) -> None:
    if not path:
        return
    head = path[0]
    if head not in FIELDS:
        raise TemplateSyntaxError(f"can't evaluate field {head}: the data has no such field", at)
    if len(path) > 1:
        allowed = SUBFIELDS.get(head)
        if head in ("Group", "Var"):
            if len(path) > 2:
                raise TemplateSyntaxError(f"can't evaluate field {path[2]} in type string", at)
        elif allowed is None or path[1] not in allowed or len(path) > 2:
            raise TemplateSyntaxError(f"can't evaluate field {'.'.join(path[1:])} of .{head}", at)


def _parse_pipeline(lex: _Lexer, closing: str) -> Pipeline:
    """Parse commands separated by `|` until `closing` (`end` or `)`)."""
    commands: list[Command] = []
    nodes: list[Node] = []
    while True:
        kind, value, at = lex.next()
        if kind in ("|", closing):
            if not nodes:
                raise lex.error("missing value for command", at)
            first = nodes[0]
            if len(nodes) > 1 and not isinstance(first, Func):
                is_meta = isinstance(first, Field) and first.path == ("Meta",)
                if not is_meta:
                    raise lex.error("can't give argument to non-function", at)
                if len(nodes) != 2:
                    raise lex.error(".Meta takes one argument: the metadata name", at)
            elif isinstance(first, Field) and first.path == ("Meta",):
                raise lex.error(".Meta needs an argument: the metadata name", at)
            commands.append(tuple(nodes))
            nodes = []
            if kind == closing:
                return tuple(commands)
            continue
        if kind == "(":
            nodes.append(Sub(_parse_pipeline(lex, ")")))
        elif kind == ")" or kind == "end":
            raise lex.error(f"unexpected {'}}' if kind == 'end' else ')'} in operand", at)
        elif kind == "field":
            assert isinstance(value, tuple)
            _check_field(value, at)
            nodes.append(Field(value))
        elif kind == "lit":
            assert isinstance(value, str | int | bool)
            nodes.append(Literal(value))
        else:
            if nodes:
                raise lex.error(f"function {value} must come first in a command", at)
            nodes.append(Func(str(value)))


def compile_template(text: str) -> Template:
    """Compile a template's text; raise TemplateSyntaxError for what kdns cannot run."""
    parts: list[str | Pipeline] = []
    at = 0
    trim_next = False
    while True:
        start = text.find("{{", at)
        literal = text[at:] if start < 0 else text[at:start]
        if trim_next:
            literal = literal.lstrip(" \t\r\n")
        if start < 0:
            if literal:
                parts.append(literal)
            return Template(text, tuple(parts))
        inner = start + 2
        if text.startswith("- ", inner) or text.startswith("-\t", inner):
            literal = literal.rstrip(" \t\r\n")
            inner += 2
        if literal:
            parts.append(literal)
        stripped = inner
        while stripped < len(text) and text[stripped] == " ":
            stripped += 1
        if text.startswith("/*", stripped):
            close = text.find("*/", stripped + 2)
            if close < 0:
                raise TemplateSyntaxError("unclosed comment", start)
            lex = _Lexer(text, close + 2)
            kind, _, where = lex.next()
            if kind != "end":
                raise TemplateSyntaxError("comment ends before closing delimiter", where)
        else:
            lex = _Lexer(text, inner)
            parts.append(_parse_pipeline(lex, "end"))
        at, trim_next = lex.at, lex.trim_right


# -- running ---------------------------------------------------------------------------------


def _field(data: Mapping[str, object], path: tuple[str, ...]) -> object:
    value: object = data
    for name in path:
        if not isinstance(value, Mapping):
            raise TemplateExecError(f"can't evaluate field {name} in type {type(value).__name__}")
        value = value.get(name, NO_VALUE)
        if value is NO_VALUE:
            return NO_VALUE
    return value


def _node(node: Node, data: Mapping[str, object]) -> object:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        return _field(data, node.path)
    if isinstance(node, Sub):
        return _pipeline(node.pipeline, data)
    raise TemplateExecError(f"{node.name} is a function: call it first in a command")


def _pipeline(pipeline: Pipeline, data: Mapping[str, object]) -> object:
    result: object = None
    for i, command in enumerate(pipeline):
        args = [_node(n, data) for n in command[1:]]
        if i > 0:
            args.append(result)
        first = command[0]
        if isinstance(first, Func):
            result = _call(first.name, args)
        elif isinstance(first, Field) and first.path == ("Meta",):
            meta = data.get("Meta")
            assert callable(meta)
            result = meta(go_str(args[0]))
        elif args:
            raise TemplateExecError("can't give argument to non-function")
        else:
            result = _node(first, data)
    return result


def _call(name: str, args: list[object]) -> object:
    return FUNCTIONS_BY_NAME[name](args)
