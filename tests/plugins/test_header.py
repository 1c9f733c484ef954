"""Table tests for the header directive's syntax."""

from __future__ import annotations

import pytest

from kdns.plugins.header import HeaderConfig, HeaderRule
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings

R = HeaderRule

VALID = [
    ("header {\nresponse set ra\n}", HeaderConfig((), (R("ra", True),))),
    ("header {\nquery set rd\n}", HeaderConfig((R("rd", True),), ())),
    # without a selector a rule is for responses (CoreDNS before 1.9.4)
    ("header {\nset ra aa\nclear rd\n}",
     HeaderConfig((), (R("ra", True), R("aa", True), R("rd", False)))),
    ("header {\nQuErY SeT RD aa\nReSpOnSe ClEaR RA\n}",
     HeaderConfig((R("rd", True), R("aa", True)), (R("ra", False),))),
    ("header {\nresponse set cd ad\n}", HeaderConfig((), (R("cd", True), R("ad", True)))),
]  # fmt: skip

INVALID = [
    ("header", 2, 1, "'header' needs a block with at least one rule"),
    ("header {\n}", 2, 8, "'header' needs a block with at least one rule"),
    ("header {\nfoo\n}", 3, 1, "unknown selector 'foo'"),
    ("header {\nquery\n}", 3, 1, "missing set or clear after 'query'"),
    ("header {\nresponse set\n}", 3, 10, "missing FLAG after 'set'"),
    ("header {\nset\n}", 3, 1, "missing FLAG after 'set'"),
    ("header {\nquery foo rd\n}", 3, 7, "unknown action 'foo'"),
    ("header {\nquery set xx\n}", 3, 11, "unknown flag 'xx'"),
    ("header {\nquery set tc\n}", 3, 11, "unknown flag 'tc'"),
    ("header {\nquery set rd {\n}\n}", 3, 14, "'query' takes no block"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: HeaderConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "header"


def test_arguments_are_ignored_with_a_warning() -> None:
    assert parse_one("header ignored {\nquery set rd\n}") == HeaderConfig((R("rd", True),), ())
    assert any("ignored" in w.message for w in warnings("header ignored {\nquery set rd\n}"))


def test_only_the_first_header_with_rules_counts() -> None:
    text = "header {\nquery set rd\n}\nheader {\nquery foo rd\n}"
    configs = parse_all(text)
    assert configs == (HeaderConfig((R("rd", True),), ()), HeaderConfig())
    found = [w for w in warnings(text) if "only the first" in w.message]
    assert [(w.pos.line, w.pos.column) for w in found] == [(5, 1)]
