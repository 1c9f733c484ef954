"""ready: listen address and monitor mode, and the errors CoreDNS also rejects."""

from __future__ import annotations

import pytest

from kdns.plugins.ready import ReadyConfig
from kdns.plugins.testing import parse_error, parse_one


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ready", ReadyConfig("", 8181, "until-ready")),
        ("ready {\n}", ReadyConfig("", 8181, "until-ready")),
        ("ready :9191", ReadyConfig("", 9191, "until-ready")),
        ("ready localhost:8181", ReadyConfig("localhost", 8181, "until-ready")),
        ("ready [::]:8181", ReadyConfig("::", 8181, "until-ready")),
        ("ready {\nmonitor continuously\n}", ReadyConfig("", 8181, "continuously")),
        ("ready :8181 {\nmonitor until-ready\n}", ReadyConfig("", 8181, "until-ready")),
    ],
)
def test_valid(text: str, expected: ReadyConfig) -> None:
    assert parse_one(text) == expected


def test_address() -> None:
    assert ReadyConfig().address == ":8181"
    assert ReadyConfig("::1", 8181).address == "[::1]:8181"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("ready\nready :8182", 3, 1, "only be used once per server block"),
        ("ready 8181", 2, 7, "has no port"),
        ("ready :8181 :8182", 2, 13, "unexpected argument ':8182'"),
        ("ready {\nmonitor\n}", 3, 1, "missing until-ready or continuously after 'monitor'"),
        ("ready {\nmonitor always\n}", 3, 9, "unknown monitor type 'always'"),
        ("ready {\nmonitor continously\n}", 3, 9, "did you mean 'continuously'?"),
        ("ready {\nmonitor until-ready x\n}", 3, 21, "unexpected argument 'x'"),
        (
            "ready {\nmonitr until-ready\n}",
            3,
            1,
            "unknown property 'monitr' - did you mean 'monitor'?",
        ),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message
