"""log: the directive text to config (names, format, classes), warnings and errors."""

from __future__ import annotations

import pytest

from kdns.plugins.log import COMBINED_FORMAT, COMMON_FORMAT, DEFAULT_FORMAT, LogClass, LogConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("log", LogConfig((".",), DEFAULT_FORMAT, ("all",))),
        ("log {\n}", LogConfig((".",), DEFAULT_FORMAT, ("all",))),
        ("log example.org", LogConfig(("example.org.",), DEFAULT_FORMAT, ("all",))),
        ("log Example.ORG.", LogConfig(("example.org.",), DEFAULT_FORMAT, ("all",))),
        # A lone argument is always a name, even when it looks like a format.
        ("log {combined}", LogConfig(("{combined}.",), DEFAULT_FORMAT, ("all",))),
        ("log stdout", LogConfig(("stdout.",), DEFAULT_FORMAT, ("all",))),
        ("log . {common}", LogConfig((".",), COMMON_FORMAT, ("all",))),
        ("log . {combined}", LogConfig((".",), COMBINED_FORMAT, ("all",))),
        (
            'log . "{proto} Request: {name} {type} {>id}"',
            LogConfig((".",), "{proto} Request: {name} {type} {>id}", ("all",)),
        ),
        # Two or more arguments without a '{' in the last one: all are names.
        ("log example.org example.net", LogConfig(("example.org.", "example.net."))),
        (
            "log a.org b.org {when}",
            LogConfig(("a.org.", "b.org."), "{when}", ("all",)),
        ),
        ("log example.org {\nclass denial\n}", LogConfig(("example.org.",), classes=("denial",))),
        (
            "log . {combined} {\nclass denial error\n}",
            LogConfig((".",), COMBINED_FORMAT, ("denial", "error")),
        ),
        ("log {\nclass denial\nclass success\n}", LogConfig(classes=("denial", "success"))),
        ("log {\nclass error error\n}", LogConfig(classes=("error",))),
        ("log {\nclass all\n}", LogConfig(classes=("all",))),
    ],
)
def test_valid(text: str, expected: LogConfig) -> None:
    assert parse_one(text) == expected


def test_common_format_text() -> None:
    assert COMMON_FORMAT == (
        '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" '
        "{rcode} {>rflags} {rsize} {duration}"
    )
    assert COMBINED_FORMAT == COMMON_FORMAT + ' "{>opcode}"'


def test_several_directives_keep_written_order() -> None:
    configs = parse_all("log example.org\nlog example.net {combined} {\nclass error\n}")
    assert configs == (
        LogConfig(("example.org.",)),
        LogConfig(("example.net.",), COMBINED_FORMAT, ("error",)),
    )


@pytest.mark.parametrize(
    ("klass", "classes", "logged"),
    [
        ("success", ("all",), True),
        ("denial", ("denial", "error"), True),
        ("success", ("denial", "error"), False),
        ("error", ("success", "all"), True),
    ],
)
def test_logs(klass: LogClass, classes: tuple[LogClass, ...], logged: bool) -> None:
    assert LogConfig(classes=classes).logs(klass) is logged


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("log {combined}", 5, "'{combined}' is read as a name, not a format"),
        ("log stdout", 5, "'stdout' is read as the name 'stdout.'"),
    ],
)
def test_warnings(text: str, column: int, message: str) -> None:
    found = [w for w in warnings(text) if message in w.message]
    assert len(found) == 1
    assert (found[0].pos.line, found[0].pos.column) == (2, column)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("log {\nclass\n}", 3, 1, "missing class (all, success, denial or error) after 'class'"),
        ("log {\nclass abracadabra\n}", 3, 7, "unknown class 'abracadabra'"),
        ("log {\nclass denial sucess\n}", 3, 14, "did you mean 'success'?"),
        ("log {\nclass Denial\n}", 3, 7, "unknown class 'Denial'"),
        ("log {\nunknown\n}", 3, 1, "unknown property 'unknown'"),
        ("log {\nclas denial\n}", 3, 1, "did you mean 'class'?"),
        ("log {\nminDuration 1s\n}", 3, 1, "unknown property 'minDuration'"),
        ("log {\nclass denial {\n}\n}", 3, 14, "'class' takes no block"),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message
