"""Table tests for the any directive's syntax: its name alone, nothing else."""

from __future__ import annotations

import pytest

from kdns.plugins.any import SPEC, AnyConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one

INVALID = [
    ("any foo", 2, 5, "unexpected argument 'foo': 'any' takes no arguments"),
    ("any foo bar", 2, 5, "unexpected argument 'foo'"),
    ("any {\nfoo\n}", 2, 5, "'any' takes no block"),
    ("any {\n}", 2, 5, "'any' takes no block"),
]


def test_bare() -> None:
    assert parse_one("any") == AnyConfig()


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "any"


def test_may_repeat() -> None:
    assert not SPEC.once
    assert parse_all("any\nany") == (AnyConfig(), AnyConfig())
