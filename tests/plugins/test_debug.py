"""Table tests for the debug directive's syntax: its name alone, nothing else."""

from __future__ import annotations

import pytest

from kdns.plugins.debug import SPEC, DebugConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one

INVALID = [
    ("debug foo", 2, 7, "unexpected argument 'foo': 'debug' takes no arguments"),
    ("debug foo bar", 2, 7, "unexpected argument 'foo'"),
    ("debug {\nfoo\n}", 2, 7, "'debug' takes no block"),
    ("debug {\n}", 2, 7, "'debug' takes no block"),
]


def test_bare() -> None:
    assert parse_one("debug") == DebugConfig()


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "debug"


def test_may_repeat() -> None:
    assert not SPEC.once
    assert parse_all("debug\ndebug") == (DebugConfig(), DebugConfig())
