"""reload: interval and jitter bounds, the jitter cap, and the errors CoreDNS also rejects."""

from __future__ import annotations

import pytest

from kdns.plugins.reload import ReloadConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reload", ReloadConfig(30.0, 15.0)),
        ("reload 10s", ReloadConfig(10.0, 5.0)),
        ("reload 10s 2s", ReloadConfig(10.0, 2.0)),
        ("reload 2s 0s", ReloadConfig(2.0, 0.0)),
        ("reload 2s 0", ReloadConfig(2.0, 0.0)),
        ("reload 1m 30s", ReloadConfig(60.0, 30.0)),
        ("reload 10s 8s", ReloadConfig(10.0, 5.0)),
        ("reload 2s 1s", ReloadConfig(2.0, 1.0)),
        ("reload 1h", ReloadConfig(3600.0, 15.0)),
    ],
)
def test_valid(text: str, expected: ReloadConfig) -> None:
    assert parse_one(text) == expected


def _own(text: str) -> list[tuple[int, int, str]]:
    return [
        (w.pos.line, w.pos.column, w.message)
        for w in warnings(text)
        if w.plugin == "reload" and "jitter" in w.message
    ]


def test_explicit_jitter_cap_warns() -> None:
    assert _own("reload 10s 8s") == [
        (2, 12, "jitter 8s is more than half the interval; 5s is used")
    ]


@pytest.mark.parametrize("text", ["reload", "reload 10s", "reload 10s 5s"])
def test_default_jitter_cap_is_silent(text: str) -> None:
    assert _own(text) == []


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("reload foo", 2, 8, "'foo' is not a reload interval"),
        ("reload 10", 2, 8, "a unit is required"),
        ("reload 10s foo", 2, 12, "'foo' is not a reload jitter"),
        ("reload 10s 5s foo", 2, 15, "unexpected argument 'foo'"),
        ("reload 1s", 2, 8, "reload interval '1s' must be at least 2s"),
        ("reload 0s", 2, 8, "must be at least 2s"),
        ("reload -30s", 2, 8, "must be at least 2s"),
        ("reload 3s 0.5s", 2, 11, "must be 0 (no jitter) or at least 1s"),
        ("reload 3s -1s", 2, 11, "must be 0 (no jitter) or at least 1s"),
        ("reload {\n}", 2, 8, "'reload' takes no block"),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message


def test_only_the_first_reload_of_a_block_counts() -> None:
    """CoreDNS reads only the first reload line; later ones warn and change nothing."""
    configs = parse_all("reload 10s\nreload 1m")
    assert configs == (ReloadConfig(10.0, 5.0), ReloadConfig(10.0, 5.0))
    found = warnings("reload 10s\nreload 1m")
    assert any(w.pos.line == 3 and "ignored" in w.message for w in found)
