"""Table tests for the root directive's syntax."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog.testing

from kdns.plugins.root import SPEC, Root, RootConfig, resolve_path, root_of
from kdns.plugins.testing import build, parse_all, parse_error, parse_one, warnings

VALID = [
    ("root /etc/coredns", RootConfig("/etc/coredns")),
    ("root zones", RootConfig("zones")),
    ('root "/srv/my zones"', RootConfig("/srv/my zones")),
]

INVALID = [
    ("root", 2, 1, "missing PATH after 'root'"),
    ("root /a /b", 2, 9, "unexpected argument '/b' to 'root'"),
    ("root /a {\n}", 2, 9, "'root' takes no block"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: RootConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "root"


def test_last_one_wins_with_a_warning() -> None:
    assert not SPEC.once
    assert parse_all("root /a\nroot /b") == (RootConfig("/a"), RootConfig("/b"))
    found = [w for w in warnings("root /a\nroot /b") if "replaces" in w.message]
    assert [(w.pos.line, w.message) for w in found] == [
        (3, "'root' was already set to '/a' in this server block; this one replaces it")
    ]


async def test_missing_directory_is_a_warning_at_start(tmp_path: Path) -> None:
    handler = build(f"root {tmp_path / 'nowhere'}")
    assert isinstance(handler, Root)
    with structlog.testing.capture_logs() as logs:
        await handler.start()
    assert [(e["log_level"], e["event"]) for e in logs] == [
        ("warning", f"Root path does not exist: {tmp_path / 'nowhere'}")
    ]
    handler = build(f"root {tmp_path}")
    with structlog.testing.capture_logs() as logs:
        await handler.start()  # type: ignore[attr-defined]
    assert logs == []


def test_relative_paths_join_the_last_root_and_absolute_ones_stay() -> None:
    configs = {"root": (RootConfig("/a"), RootConfig("/zones"))}
    assert resolve_path("db.example.org", configs) == "/zones/db.example.org"
    assert resolve_path("/etc/db", configs) == "/etc/db"
    assert resolve_path("db", {}) == "db"
    assert root_of({}) == ""
