"""Table tests for the local directive's syntax."""

from __future__ import annotations

import pytest

from kdns.plugins.local import LocalConfig
from kdns.plugins.testing import parse_error, parse_one

VALID = [
    ("local", LocalConfig(localhost_prefix=True)),
    ("local {\n}", LocalConfig(localhost_prefix=True)),
    ("local {\nlocalhost_prefix on\n}", LocalConfig(localhost_prefix=True)),
    ("local {\nlocalhost_prefix off\n}", LocalConfig(localhost_prefix=False)),
    ("local {\nlocalhost_prefix off\nlocalhost_prefix on\n}", LocalConfig(localhost_prefix=True)),
]

INVALID = [
    ("local foo", 2, 7, "unexpected argument 'foo': 'local' takes no arguments"),
    ("local {\nlocalhost_prefix\n}", 3, 1, "missing on or off after 'localhost_prefix'"),
    ("local {\nlocalhost_prefix yes\n}", 3, 18, "unknown localhost_prefix value 'yes'"),
    ("local {\nlocalhost_prefix ON\n}", 3, 18, "unknown localhost_prefix value 'ON'"),
    ("local {\nlocalhost_prefix on off\n}", 3, 21, "unexpected argument 'off'"),
    ("local {\nlocalhost_prefx on\n}", 3, 1, "did you mean 'localhost_prefix'?"),
    ("local {\nfoo\n}", 3, 1, "unknown property 'foo'"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: LocalConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "local"
