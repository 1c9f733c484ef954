"""A small, safe evaluator for the subset of the expr language that view expressions use.

CoreDNS compiles view expressions with expr-lang (github.com/expr-lang/expr). This module reads
the part of that language people write in a Corefile: string, number, boolean and list literals;
the query functions (`name()`, `client_ip()`, ...) and `incidr`/`metadata`; `==`, `!=`, `<`,
`<=`, `>`, `>=`, `in`, `not in`, `matches`, `contains`, `startsWith`, `endsWith`; `!`/`not`,
`&&`/`and`, `||`/`or`; `+ - * / %`, unary minus, `cond ? a : b` and parentheses.

An expression is compiled once, when the Corefile is loaded, into nested closures: unknown
functions, wrong argument counts, mismatched types known at compile time, invalid constant
patterns and CIDRs are errors with the offset where they were written. Nothing is ever handed
to Python's eval. At query time a closure that meets a value of the wrong type raises
`EvalError`; the view treats that as false, as CoreDNS does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kdns.plugins.base import Request
from kdns.plugins.view.lexer import ExprError, Token, tokenize
from kdns.plugins.view.values import (
    ANY,
    BOOL,
    FUNCTIONS,
    LIST,
    NIL,
    NUM,
    STR,
    EvalError,
    arith,
    compare,
    in_network,
    member,
    need,
    same,
    search,
    strings,
    type_of,
)

__all__ = ["EvalError", "ExprError", "Program", "compile_expression"]

#: A compiled (sub)expression: the request in, a value out.
Eval = Callable[[Request], Any]
#: A compiled view expression: true when the request is admitted.
Program = Callable[[Request], bool]

#: Names people reach for that CoreDNS spells differently.
_HINTS = {"client_port": "port", "qname": "name", "qtype": "type", "protocol": "proto"}


@dataclass(frozen=True, slots=True)
class Node:
    """A compiled subexpression: its evaluator, static type, and constant value if any."""

    run: Eval
    type: str
    offset: int
    const: bool = False
    value: Any = None


def _constant(value: Any, type_: str, offset: int) -> Node:
    return Node(lambda req: value, type_, offset, True, value)


#: Binary operators by precedence level, lowest first (expr-lang's order).
_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||", "or"),
    ("&&", "and"),
    (
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in",
        "not in",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
    ),
    ("+", "-"),
    ("*", "/", "%"),
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise ExprError(f"expected {what}, found {self._show(self.tok)}", self.tok.offset)
        return self.take()

    @staticmethod
    def _show(tok: Token) -> str:
        if tok.kind == "end":
            return "the end of the expression"
        if tok.kind == "str":
            return f"string {tok.value!r}"
        return f"'{tok.value}'"

    def program(self) -> Node:
        node = self.ternary()
        if self.tok.kind != "end":
            raise ExprError(f"unexpected {self._show(self.tok)}", self.tok.offset)
        return node

    def ternary(self) -> Node:
        cond = self.binary(0)
        if not (self.tok.kind == "op" and self.tok.value == "?"):
            return cond
        self.take()
        _check(cond, BOOL, "the condition of '?'")
        yes = self.ternary()
        colon = self.tok
        if not (colon.kind == "op" and colon.value == ":"):
            raise ExprError(
                f"expected ':' in 'cond ? a : b', found {self._show(colon)}", colon.offset
            )
        self.take()
        no = self.ternary()
        c, a, b = cond.run, yes.run, no.run

        def run(req: Request) -> Any:
            return a(req) if need(c(req), BOOL, "'?'") else b(req)

        return Node(run, yes.type if yes.type == no.type else ANY, cond.offset)

    def _operator(self, level: int) -> str | None:
        tok = self.tok
        if tok.kind != "op":
            return None
        op = str(tok.value)
        if (
            op == "not"
            and self.tokens[self.i + 1].kind == "op"
            and self.tokens[self.i + 1].value == "in"
        ):
            op = "not in"
        return op if op in _LEVELS[level] else None

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self._operator(level)) is not None:
            offset = self.take().offset
            if op == "not in":
                self.take()
            right = self.binary(level + 1)
            left = _binary(op, left, right, offset)
        return left

    def unary(self) -> Node:
        tok = self.tok
        if tok.kind == "op" and tok.value in ("!", "not"):
            self.take()
            operand = self.unary()
            _check(operand, BOOL, f"'{tok.value}'")
            inner = operand.run
            return Node(lambda req: not need(inner(req), BOOL, "'!'"), BOOL, tok.offset)
        if tok.kind == "op" and tok.value in ("-", "+"):
            self.take()
            operand = self.unary()
            _check(operand, NUM, f"unary '{tok.value}'")
            inner = operand.run
            sign = -1 if tok.value == "-" else 1
            return Node(lambda req: sign * need(inner(req), NUM, "'-'"), NUM, tok.offset)
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("str", "num"):
            return _constant(tok.value, type_of(tok.value), tok.offset)
        if tok.kind == "(":
            node = self.ternary()
            self.expect(")", "')'")
            return node
        if tok.kind == "[":
            items: list[Node] = []
            while self.tok.kind != "]":
                items.append(self.ternary())
                if self.tok.kind != ",":
                    break
                self.take()
            self.expect("]", "']' or ','")
            if all(item.const for item in items):
                return _constant([item.value for item in items], LIST, tok.offset)
            runs = [item.run for item in items]
            return Node(lambda req: [r(req) for r in runs], LIST, tok.offset)
        if tok.kind == "name":
            if tok.value in ("true", "false"):
                return _constant(tok.value == "true", BOOL, tok.offset)
            if tok.value == "nil":
                return _constant(None, NIL, tok.offset)
            return self.call(tok)
        raise ExprError(f"expected a value, found {self._show(tok)}", tok.offset)

    def call(self, tok: Token) -> Node:
        name = str(tok.value)
        spec = FUNCTIONS.get(name)
        if spec is None:
            hint = f" (did you mean {_HINTS[name]}()?)" if name in _HINTS else ""
            known = ", ".join(f"{f}()" for f in sorted(FUNCTIONS))
            raise ExprError(f"unknown name '{name}'{hint}; the functions are {known}", tok.offset)
        if self.tok.kind != "(":
            raise ExprError(f"'{name}' is a function: write {name}()", tok.offset)
        self.take()
        args: list[Node] = []
        while self.tok.kind != ")":
            args.append(self.ternary())
            if self.tok.kind != ",":
                break
            self.take()
        self.expect(")", "')' or ','")
        types, result, impl = spec
        if len(args) != len(types):
            raise ExprError(
                f"{name}() takes {len(types)} argument{'s' if len(types) != 1 else ''}, "
                f"not {len(args)}",
                tok.offset,
            )
        for arg, want in zip(args, types, strict=True):
            _check(arg, want, f"argument of {name}()")
        if name == "incidr" and args[1].const:
            try:
                net = ipaddress.ip_network(args[1].value, strict=False)
            except ValueError:
                raise ExprError(f"invalid CIDR address: {args[1].value}", args[1].offset) from None
            ip_run = args[0].run

            def in_net(req: Request) -> bool:
                return in_network(need(ip_run(req), STR, "incidr"), net)

            return Node(in_net, BOOL, tok.offset)
        if not args:
            return Node(impl, result, tok.offset)
        runs = [a.run for a in args]
        return Node(lambda req: impl(req, *(r(req) for r in runs)), result, tok.offset)


def _check(node: Node, want: str, what: str) -> None:
    if node.type not in (want, ANY):
        raise ExprError(f"{what} needs a {want}, not a {node.type}", node.offset)


def _binary(op: str, left: Node, right: Node, offset: int) -> Node:
    a, b = left.run, right.run
    if op in ("||", "or", "&&", "and"):
        _check(left, BOOL, f"'{op}'")
        _check(right, BOOL, f"'{op}'")
        if op in ("||", "or"):
            return Node(lambda req: need(a(req), BOOL, op) or need(b(req), BOOL, op), BOOL, offset)
        return Node(lambda req: need(a(req), BOOL, op) and need(b(req), BOOL, op), BOOL, offset)
    fn: Callable[[Any, Any], Any]
    result = BOOL
    if op in ("==", "!="):
        known = {left.type, right.type} - {ANY, NIL}
        if len(known) > 1:
            raise ExprError(
                f"invalid operation: {op} (mismatched types {left.type} and {right.type})", offset
            )
        fn = same if op == "==" else (lambda x, y: not same(x, y))
    elif op in ("<", "<=", ">", ">="):
        known = {left.type, right.type} - {ANY}
        if len(known) > 1 or known - {NUM, STR}:
            raise ExprError(f"invalid operation: {op} between {left.type} and {right.type}", offset)
        fn = compare(op)
    elif op in ("in", "not in"):
        _check(right, LIST, f"the right side of '{op}'")
        fn = member if op == "in" else (lambda x, y: not member(x, y))
    elif op == "matches":
        _check(left, STR, "'matches'")
        _check(right, STR, "'matches'")
        if right.const:
            try:
                pattern = re.compile(right.value)
            except re.error as exc:
                raise ExprError(f"invalid regular expression: {exc}", right.offset) from None
            return Node(lambda req: pattern.search(need(a(req), STR, op)) is not None, BOOL, offset)
        fn = strings(lambda x, y: search(y, x), op)
    elif op in ("contains", "startsWith", "endsWith"):
        _check(left, STR, f"'{op}'")
        _check(right, STR, f"'{op}'")
        method = {
            "contains": str.__contains__,
            "startsWith": str.startswith,
            "endsWith": str.endswith,
        }
        fn = strings(method[op], op)
    else:
        for side in (left, right):
            if side.type not in (NUM, STR, ANY) or (op != "+" and side.type == STR):
                raise ExprError(f"invalid operation: {op} on a {side.type}", side.offset)
        if {left.type, right.type} == {NUM, STR}:
            raise ExprError(
                f"invalid operation: {op} (mismatched types {left.type} and {right.type})", offset
            )
        fn = arith(op)
        result = left.type if left.type == right.type else ANY
    return Node(lambda req: fn(a(req), b(req)), result, offset)


def compile_expression(text: str) -> Program:
    """Compile a view expression; raise ExprError (with the offset) if it is not valid."""
    node = _Parser(text).program()
    if node.type not in (BOOL, ANY):
        raise ExprError(
            f"the expression must be true or false, but it gives a {node.type}", node.offset
        )
    run = node.run

    def program(req: Request) -> bool:
        return run(req) is True

    return program
