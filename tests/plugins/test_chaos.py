"""Table tests for the chaos directive's syntax."""

from __future__ import annotations

import pytest

from kdns.plugins.chaos import SPEC, ChaosConfig
from kdns.plugins.testing import parse_error, parse_one, warnings

VALID = [
    ("chaos", ChaosConfig(None, ())),
    ("chaos CoreDNS-001", ChaosConfig("CoreDNS-001", ())),
    ("chaos v1 miek", ChaosConfig("v1", ("miek",))),
    # Authors are sorted and repeats removed.
    ("chaos v1 zed ann zed bob", ChaosConfig("v1", ("ann", "bob", "zed"))),
    ('chaos "My DNS 1.0" "Jane Doe"', ChaosConfig("My DNS 1.0", ("Jane Doe",))),
    # TXT strings are limited to 255 characters.
    ("chaos " + "v" * 300 + " " + "a" * 256, ChaosConfig("v" * 255, ("a" * 255,))),
]

INVALID = [
    ("chaos {\n}", 2, 7, "'chaos' takes no block"),
    ("chaos v1 {\nfoo\n}", 2, 10, "'chaos' takes no block"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: ChaosConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "chaos"


def test_second_occurrence_is_ignored_with_a_warning() -> None:
    assert not SPEC.once
    found = [w for w in warnings("chaos v1\nchaos v2") if "only the first" in w.message]
    assert [(w.pos.line, w.pos.column) for w in found] == [(3, 1)]
