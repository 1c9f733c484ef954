"""file: DBFILE, zones and the block options; legacy upstream warned, legacy transfer refused."""

from __future__ import annotations

import pytest

from kdns.corefile.syntax import Fallthrough
from kdns.plugins.file import FileConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings

VALID = [
    ("file db.example.org", FileConfig("db.example.org", ("example.org.",))),
    (
        "file example.org.signed Example.org example.NET",
        FileConfig("example.org.signed", ("example.org.", "example.net.")),
    ),
    ("file db.10 10.0.0.0/8", FileConfig("db.10", ("10.in-addr.arpa.",))),
    ("file /var/db {\nreload 0\n}", FileConfig("/var/db", ("example.org.",), reload=0.0)),
    (
        "file db {\nreload 30s\nreload_by_mtime\nfallthrough\n}",
        FileConfig("db", ("example.org.",), 30.0, True, Fallthrough()),
    ),
    (
        "file db {\nfallthrough in-addr.arpa ip6.arpa\nupstream\n}",
        FileConfig(
            "db", ("example.org.",), fallthrough=Fallthrough(("in-addr.arpa.", "ip6.arpa."))
        ),
    ),
    ("file db {\nupstream 8.8.8.8\n}", FileConfig("db", ("example.org.",))),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: FileConfig) -> None:
    assert parse_one(text) == expected


def test_defaults() -> None:
    config = parse_one("file db")
    assert isinstance(config, FileConfig)
    assert (config.reload, config.reload_by_mtime, config.fallthrough) == (60.0, False, None)


def test_several_files_in_one_block() -> None:
    configs = parse_all("file db.a a.org\nfile db.b b.org")
    assert [(c.path, c.zones) for c in configs if isinstance(c, FileConfig)] == [
        ("db.a", ("a.org.",)),
        ("db.b", ("b.org.",)),
    ]


def test_upstream_is_ignored_with_a_warning() -> None:
    found = [w for w in warnings("file db {\nupstream\n}") if "'upstream' is ignored" in w.message]
    assert len(found) == 1
    assert (found[0].pos.line, found[0].pos.column) == (3, 1)


INVALID = [
    ("file", 2, 1, "missing zone file (DBFILE) after 'file'"),
    ("file db a..b", 2, 9, "not a valid domain name"),
    ("file db {\nreload\n}", 3, 1, "missing DURATION"),
    ("file db {\nreload 60\n}", 3, 8, "a unit is required"),
    ("file db {\nreload -1m\n}", 3, 8, "must be at least 0s"),
    ("file db {\nreload 1m 2m\n}", 3, 11, "unexpected argument '2m'"),
    ("file db {\nreload_by_mtime yes\n}", 3, 17, "takes no arguments"),
    ("file db {\ntransfer to *\n}", 3, 1, "use the transfer plugin"),
    ("file db {\nrelaod 1m\n}", 3, 1, "unknown property 'relaod' - did you mean 'reload'?"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "file"
