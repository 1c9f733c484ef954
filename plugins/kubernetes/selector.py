"""Kubernetes label selectors (`app=web,tier in (a,b),!canary`), read as the API server reads them.

Only the operators `meta.ParseToLabelSelector` accepts are allowed: `=`, `==`, `!=`, `in`,
`notin`, `KEY` (exists) and `!KEY` (does not exist); `<` and `>` are refused, as in CoreDNS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_TOKEN = re.compile(r"\s*(==|!=|[=!(),<>]|[^\s=!(),<>]+)")


class SelectorError(ValueError):
    """A label selector is not valid; the message says why."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One comma-separated part of a selector: a key, an operator and its values."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Tell whether an object with these labels meets the requirement."""
        value = labels.get(self.key)
        match self.operator:
            case "exists":
                return value is not None
            case "!":
                return value is None
            case "=" | "in":
                return value is not None and value in self.values
            case _:  # "!=" and "notin" also match objects without the key
                return value is None or value not in self.values

    def __str__(self) -> str:
        match self.operator:
            case "exists":
                return self.key
            case "!":
                return "!" + self.key
            case "=" | "!=":
                return f"{self.key}{self.operator}{self.values[0]}"
            case _:
                return f"{self.key} {self.operator} ({','.join(self.values)})"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector: every requirement must hold (an AND)."""

    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Tell whether an object with these labels is selected."""
        return all(r.matches(labels) for r in self.requirements)

    def query(self) -> str:
        """Return the selector in the canonical form the API's `labelSelector` takes."""
        return ",".join(str(r) for r in self.requirements)

    def __str__(self) -> str:
        return self.query()


def _check_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise SelectorError(
            f"key '{key}': the prefix before '/' must be a lower-case DNS subdomain "
            "(such as example.com)"
        )
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        raise SelectorError(
            f"key '{key}' is not a label name: 1 to 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return key


def _check_value(value: str) -> str:
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        raise SelectorError(
            f"value '{value}' is not a label value: up to 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return value


class _Reader:
    def __init__(self, text: str) -> None:
        stripped = text.strip()
        self.tokens = _TOKEN.findall(stripped)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.at += token is not None
        return token

    def identifier(self, what: str) -> str:
        token = self.take()
        if token is None or token in _SYMBOLS:
            found = "the end" if token is None else f"'{token}'"
            raise SelectorError(f"expected {what}, found {found}")
        return token


_SYMBOLS = frozenset({"==", "!=", "=", "!", "(", ")", ",", "<", ">"})


def _requirement(reader: _Reader) -> Requirement:
    if reader.peek() == "!":
        reader.take()
        return Requirement(_check_key(reader.identifier("a key after '!'")), "!")
    key = _check_key(reader.identifier("a key"))
    op = reader.peek()
    if op is None or op == ",":
        return Requirement(key, "exists")
    reader.take()
    if op in ("=", "==", "!="):
        nxt = reader.peek()
        value = "" if nxt is None or nxt == "," else reader.identifier(f"a value after '{op}'")
        return Requirement(key, "!=" if op == "!=" else "=", (_check_value(value),))
    if op in ("in", "notin"):
        if reader.take() != "(":
            raise SelectorError(f"expected '(' after '{op}'")
        values: list[str] = []
        if reader.peek() == ")":
            reader.take()
        else:
            while True:
                token = reader.peek()
                value = "" if token in (",", ")") else reader.identifier("a value")
                values.append(_check_value(value))
                sep = reader.take()
                if sep == ")":
                    break
                if sep != ",":
                    found = "the end" if sep is None else f"'{sep}'"
                    raise SelectorError(f"expected ',' or ')' in the value list, found {found}")
        if not values:
            raise SelectorError(f"'{op}' needs at least one value in its parentheses")
        operator: Operator = "in" if op == "in" else "notin"
        return Requirement(key, operator, tuple(sorted(set(values))))
    if op in ("<", ">"):
        raise SelectorError(f"operator '{op}' is not supported in label selectors")
    raise SelectorError(
        f"expected an operator (=, ==, !=, in, notin) or ',' after key '{key}', found '{op}'"
    )


def parse_selector(text: str) -> LabelSelector:
    """Parse a label selector; raise `SelectorError` when it is not valid."""
    reader = _Reader(text)
    if reader.peek() is None:
        raise SelectorError("the selector is empty")
    requirements = [_requirement(reader)]
    while (token := reader.take()) is not None:
        if token != ",":
            raise SelectorError(f"expected ',' between requirements, found '{token}'")
        requirements.append(_requirement(reader))
    return LabelSelector(tuple(requirements))
