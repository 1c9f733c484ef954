"""Table tests for the nsid directive's syntax."""

from __future__ import annotations

import pytest

from kdns.plugins.nsid import SPEC, NsidConfig
from kdns.plugins.testing import parse_error, parse_one

VALID = [
    ("nsid", NsidConfig(None)),
    ("nsid server-1", NsidConfig("server-1")),
    ("nsid Use The Force", NsidConfig("Use The Force")),
    ('nsid "two  spaces"', NsidConfig("two  spaces")),
]

INVALID = [
    ("nsid a {\n}", 2, 8, "'nsid' takes no block"),
    ("nsid a\nnsid b", 3, 1, "can only be used once per server block"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: NsidConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "nsid"


def test_once() -> None:
    assert SPEC.once
