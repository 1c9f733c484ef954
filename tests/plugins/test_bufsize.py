"""Table tests for the bufsize directive's syntax."""

from __future__ import annotations

import pytest

from kdns.plugins.bufsize import BufsizeConfig
from kdns.plugins.testing import parse_error, parse_one, warnings

VALID = [
    ("bufsize", BufsizeConfig(1232)),
    ("bufsize 512", BufsizeConfig(512)),
    ("bufsize 1232", BufsizeConfig(1232)),
    ("bufsize 4096", BufsizeConfig(4096)),
]

INVALID = [
    ("bufsize 511", 2, 9, "buffer size 511 is out of range: it must be between 512 and 4096"),
    ("bufsize 4097", 2, 9, "buffer size 4097 is out of range"),
    ("bufsize -1", 2, 9, "out of range"),
    ("bufsize big", 2, 9, "buffer size 'big' is not a whole number"),
    ("bufsize 512 1024", 2, 13, "unexpected argument '1024' to 'bufsize'"),
    ("bufsize 512 {\n}", 2, 13, "'bufsize' takes no block"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: BufsizeConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "bufsize"


def test_second_occurrence_is_ignored_with_a_warning() -> None:
    found = [w for w in warnings("bufsize 512\nbufsize 1024") if "only the first" in w.message]
    assert [w.pos.line for w in found] == [3]
