"""debug handler: it tells the runtime not to recover, and turns DEBUG logging on while it runs."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from kdns.plugins.base import Debugging
from kdns.plugins.debug import Debug
from kdns.plugins.debug.handler import debug_logging
from kdns.plugins.testing import build

Lines = Callable[[], list[str]]


def debug_handler() -> Debug:
    handler = build("debug")
    assert isinstance(handler, Debug)
    return handler


def test_switches_recovery_off() -> None:
    handler = debug_handler()
    assert isinstance(handler, Debugging)
    assert handler.debugging()


async def test_debug_logging_while_any_debug_block_runs(lines: Lines) -> None:
    """Counted per block, so a reload (new block started, old stopped) keeps it on."""
    log = structlog.get_logger("plugin/test")  # as plugins hold it: a module-level proxy

    def say(message: str) -> None:
        log.debug(message)

    first, second = debug_handler(), debug_handler()
    say("before")
    await first.start()
    await second.start()
    say("both")
    await first.stop()
    await first.stop()  # a second stop gives nothing back twice
    say("one")
    assert debug_logging()
    await second.stop()
    say("none")
    assert not debug_logging()
    assert [line for line in lines() if "plugin/test" in line] == [
        "[DEBUG] plugin/test: both",
        "[DEBUG] plugin/test: one",
    ]
    assert "[DEBUG] plugin/debug: debug logging on" in lines()
