"""errors: syntax and defaults, as CoreDNS's errors plugin reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import Args, choice, duration, regex

LogLevel = Literal["warning", "error", "info", "debug"]
LEVELS: tuple[LogLevel, ...] = ("warning", "error", "info", "debug")


@dataclass(frozen=True, slots=True)
class Consolidate:
    """Errors matching `pattern` are counted for `period` seconds and logged as one line."""

    period: float
    pattern: re.Pattern[str]
    level: LogLevel = "error"
    show_first: bool = False


@dataclass(frozen=True, slots=True)
class ErrorsConfig:
    """How errors are logged: consolidation rules (first match wins) and panic stack traces."""

    consolidate: tuple[Consolidate, ...] = field(default=())
    stacktrace: bool = False


def _consolidate(prop: Directive) -> Consolidate:
    prop.no_block()
    args = Args(prop)
    period = duration(args.next("DURATION"), minimum=0, what="consolidate duration")
    pattern = regex(args.next("REGEXP"))
    result = Consolidate(period, pattern)
    word = args.optional()
    if word is not None and word.text != "show_first":
        result = replace(result, level=choice(word, LEVELS, "log level"))
        word = args.optional()
    if word is not None:
        if word.text != "show_first":
            raise CorefileError(
                f"unexpected argument '{word.text}' to 'consolidate': only 'show_first' may "
                "follow the log level",
                word.pos,
            )
        result = replace(result, show_first=True)
    args.end()
    return result


def parse(d: Directive, ctx: BlockContext) -> ErrorsConfig:
    """Parse `errors [stdout] { stacktrace; consolidate DURATION REGEXP [LEVEL] [show_first] }`."""
    args = Args(d)
    first = args.optional()
    if first is not None and first.text != "stdout":
        raise CorefileError(
            f"invalid log file '{first.text}': errors always writes to standard output; the "
            "only argument allowed is the legacy 'stdout'",
            first.pos,
        )
    args.end()
    config = ErrorsConfig()
    for prop in d.properties():
        match prop.keyword:
            case "stacktrace":
                prop.bare()
                config = replace(config, stacktrace=True)
            case "consolidate":
                config = replace(config, consolidate=(*config.consolidate, _consolidate(prop)))
            case _:
                raise prop.unknown(("stacktrace", "consolidate"))
    return config
