"""health: listen address and lameduck, and the errors CoreDNS also rejects."""

from __future__ import annotations

import pytest

from kdns.plugins.health import HealthConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("health", HealthConfig("", 8080, 0.0)),
        ("health {\n}", HealthConfig("", 8080, 0.0)),
        ("health :8081", HealthConfig("", 8081, 0.0)),
        ("health localhost:8080", HealthConfig("localhost", 8080, 0.0)),
        ("health 0.0.0.0:9000", HealthConfig("0.0.0.0", 9000, 0.0)),
        ("health [::1]:8080", HealthConfig("::1", 8080, 0.0)),
        ("health {\nlameduck 5s\n}", HealthConfig("", 8080, 5.0)),
        ("health :8080 {\nlameduck 1m\nlameduck 500ms\n}", HealthConfig("", 8080, 0.5)),
    ],
)
def test_valid(text: str, expected: HealthConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(
    ("config", "address"),
    [
        (HealthConfig(), ":8080"),
        (HealthConfig("127.0.0.1", 8081), "127.0.0.1:8081"),
        (HealthConfig("::1", 8080), "[::1]:8080"),
    ],
)
def test_address(config: HealthConfig, address: str) -> None:
    assert config.address == address


def test_may_repeat() -> None:
    assert parse_all("health :8080\nhealth :8082") == (
        HealthConfig(port=8080),
        HealthConfig(port=8082),
    )


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("health 8080", 2, 8, "has no port"),
        ("health localhost", 2, 8, "has no port"),
        ("health :99999", 2, 8, "out of range"),
        ("health ::1:8080", 2, 8, "put an IPv6 address in brackets"),
        ("health :8080 :8081", 2, 14, "unexpected argument ':8081'"),
        ("health {\nlameduck\n}", 3, 1, "missing DURATION after 'lameduck'"),
        ("health {\nlameduck 5\n}", 3, 10, "'5' is not a lameduck duration"),
        ("health {\nlameduck -1s\n}", 3, 10, "must be at least 0s"),
        ("health {\nlameduck 5s 10s\n}", 3, 13, "unexpected argument '10s'"),
        ("health {\nlame_duck 5s\n}", 3, 1, "did you mean 'lameduck'?"),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message
