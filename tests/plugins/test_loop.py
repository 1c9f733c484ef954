"""loop: no arguments; the probe zone is the block's first zone."""

from __future__ import annotations

import pytest

from kdns.plugins.loop import LoopConfig
from kdns.plugins.testing import parse_error, parse_one


@pytest.mark.parametrize(
    ("keys", "zone"),
    [
        (".", "."),
        ("example.org", "example.org."),
        ("Example.ORG:1053 example.net", "example.org."),
        ("10.0.0.0/24", "0.0.10.in-addr.arpa."),
        ("dns://.:53", "."),
    ],
)
def test_valid(keys: str, zone: str) -> None:
    assert parse_one("loop", keys=keys) == LoopConfig(zone)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("loop x", 2, 6, "unexpected argument 'x': 'loop' takes no arguments"),
        ("loop {\n}", 2, 6, "'loop' takes no block"),
        ("loop\nloop", 3, 1, "only be used once per server block"),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message
