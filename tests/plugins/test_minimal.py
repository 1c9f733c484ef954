"""Table tests for the minimal directive's syntax: its name alone, nothing else."""

from __future__ import annotations

import pytest

from kdns.plugins.minimal import SPEC, MinimalConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one

INVALID = [
    ("minimal foo", 2, 9, "unexpected argument 'foo': 'minimal' takes no arguments"),
    ("minimal foo bar", 2, 9, "unexpected argument 'foo'"),
    ("minimal {\nfoo\n}", 2, 9, "'minimal' takes no block"),
    ("minimal {\n}", 2, 9, "'minimal' takes no block"),
]


def test_bare() -> None:
    assert parse_one("minimal") == MinimalConfig()


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "minimal"


def test_may_repeat() -> None:
    assert not SPEC.once
    assert parse_all("minimal\nminimal") == (MinimalConfig(), MinimalConfig())
