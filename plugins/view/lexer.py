"""The tokens of view expressions (the expr language), with their offsets for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ExprError", "Token", "tokenize"]


class ExprError(Exception):
    """An expression that cannot be compiled; `offset` is where, in the expression text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


_SYMBOLS = ("&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", "?", ":")
_PUNCT = "()[],"
_WORD_OPS = {"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind (`str`, `num`, `name`, `op`, a punctuation mark, `end`) and value."""

    kind: str
    value: Any
    offset: int


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; raise ExprError on a character that starts none."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "'\"`":
            value, end = _string(text, i)
            tokens.append(Token("str", value, i))
            i = end
        elif ch.isdigit():
            m = _NUMBER.match(text, i)
            assert m is not None
            raw = m.group()
            tokens.append(
                Token("num", float(raw) if "." in raw or "e" in raw.lower() else int(raw), i)
            )
            i = m.end()
        elif m := _IDENT.match(text, i):
            word = m.group()
            kind = "op" if word in _WORD_OPS else "name"
            tokens.append(Token(kind, word, i))
            i = m.end()
        elif ch in _PUNCT:
            tokens.append(Token(ch, ch, i))
            i += 1
        else:
            sym = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if sym is None:
                raise ExprError(f"unexpected character {ch!r}", i)
            tokens.append(Token("op", sym, i))
            i += len(sym)
    tokens.append(Token("end", None, n))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\" and quote != "`":
            nxt = text[i + 1 : i + 2]
            if nxt not in _ESCAPES:
                raise ExprError(
                    f"invalid escape '\\{nxt}' in a string: write '\\\\' for a backslash", i
                )
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExprError(f"string has no closing {quote}", start)
