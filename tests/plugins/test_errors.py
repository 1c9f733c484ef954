"""errors: the directive text to config, and the errors CoreDNS also rejects."""

from __future__ import annotations

import pytest

from kdns.plugins.errors import Consolidate, ErrorsConfig
from kdns.plugins.testing import parse_error, parse_one


def _summary(config: object) -> tuple[object, ...]:
    assert isinstance(config, ErrorsConfig)
    return (
        config.stacktrace,
        tuple((c.period, c.pattern.pattern, c.level, c.show_first) for c in config.consolidate),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("errors", (False, ())),
        ("errors stdout", (False, ())),
        ("errors {\n}", (False, ())),
        ("errors {\nstacktrace\n}", (True, ())),
        (
            'errors {\nconsolidate 5m ".* i/o timeout$" warning\n'
            'consolidate 30s "^Failed to .+"\n}',
            (
                False,
                (
                    (300.0, ".* i/o timeout$", "warning", False),
                    (30.0, "^Failed to .+", "error", False),
                ),
            ),
        ),
        ("errors {\nconsolidate 1s ^x info show_first\n}", (False, ((1.0, "^x", "info", True),))),
        ("errors {\nconsolidate 2s ^x show_first\n}", (False, ((2.0, "^x", "error", True),))),
        ("errors {\nconsolidate 1m30s ^x debug\n}", (False, ((90.0, "^x", "debug", False),))),
        ("errors {\nconsolidate 0 ^x\n}", (False, ((0.0, "^x", "error", False),))),
    ],
)
def test_valid(text: str, expected: tuple[object, ...]) -> None:
    assert _summary(parse_one(text)) == expected


def test_defaults() -> None:
    assert parse_one("errors") == ErrorsConfig(consolidate=(), stacktrace=False)
    config = parse_one("errors {\nconsolidate 3s abc\n}")
    assert isinstance(config, ErrorsConfig)
    assert config.consolidate[0] == Consolidate(3.0, config.consolidate[0].pattern)
    assert config.consolidate[0].level == "error"
    assert not config.consolidate[0].show_first


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("errors stderr", 2, 8, "invalid log file 'stderr'"),
        ("errors stdout extra", 2, 15, "unexpected argument 'extra'"),
        ("errors\nerrors", 3, 1, "only be used once per server block"),
        ("errors {\nconsolidate\n}", 3, 1, "missing DURATION after 'consolidate'"),
        ("errors {\nconsolidate 5m\n}", 3, 13, "missing REGEXP after '5m'"),
        ("errors {\nconsolidate 5 ^x\n}", 3, 13, "'5' is not a consolidate duration"),
        ("errors {\nconsolidate -5s ^x\n}", 3, 13, "must be at least 0s"),
        ("errors {\nconsolidate 5m (x\n}", 3, 16, "invalid regular expression '(x'"),
        ("errors {\nconsolidate 5m ^x warn\n}", 3, 19, "unknown log level 'warn' - did you mean"),
        ("errors {\nconsolidate 5m ^x error first\n}", 3, 25, "only 'show_first' may follow"),
        ("errors {\nconsolidate 5m ^x show_first error\n}", 3, 30, "unexpected argument 'error'"),
        ("errors {\nconsolidate 5m ^x error show_first x\n}", 3, 36, "unexpected argument 'x'"),
        ("errors {\nstacktrace yes\n}", 3, 12, "'stacktrace' takes no arguments"),
        (
            "errors {\nstack_trace\n}",
            3,
            1,
            "unknown property 'stack_trace' - did you mean 'stacktrace'?",
        ),
        (
            "errors {\npanicRecoveryStacktrace\n}",
            3,
            1,
            "unknown property 'panicRecoveryStacktrace'",
        ),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message
    assert error.plugin == "errors"
