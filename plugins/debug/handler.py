"""debug: reports chain failures unrecovered and turns on `[DEBUG]` logging process-wide.

kdns keeps serving: where CoreDNS with *debug* lets a panic crash the process, kdns logs the
failure at error level with its traceback and the query in hex, and answers SERVFAIL (the
runtime reads `debugging()`). While at least one running server block has *debug*, the log
level is DEBUG; it returns to what it was when the last such block stops (reloads included).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

from kdns.plugins.base import BuildContext, Handler, Plugin
from kdns.plugins.debug.config import DebugConfig

log = structlog.get_logger("plugin/debug")

#: How many started debug handlers there are, and the settings to restore after the last.
_active = 0
_saved: tuple[Any, int] | None = None


def enable() -> None:
    """Turn DEBUG logging on (counted: each call needs a matching `disable`)."""
    global _active, _saved
    if _active == 0:
        root = logging.getLogger()
        _saved = (structlog.get_config()["wrapper_class"], root.level)
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
        root.setLevel(logging.DEBUG)
    _active += 1


def disable() -> None:
    """Undo one `enable`; the last one restores the earlier log level."""
    global _active, _saved
    if _active == 0:
        return
    _active -= 1
    if _active == 0 and _saved is not None:
        wrapper, level = _saved
        structlog.configure(wrapper_class=wrapper)
        logging.getLogger().setLevel(level)
        _saved = None


def debug_logging() -> bool:
    """Tell whether a debug block has DEBUG logging on right now."""
    return _active > 0


class Debug(Plugin[DebugConfig]):
    """The server-level switch: never sees a query."""

    name = "debug"

    def __init__(
        self, configs: tuple[DebugConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self._on = False

    def debugging(self) -> bool:
        """Tell the runtime that failures in this block are reported as not recovered."""
        return True

    async def start(self) -> None:
        """Turn DEBUG logging on while this block runs."""
        if not self._on:
            enable()
            self._on = True
            log.debug("debug logging on")

    async def stop(self) -> None:
        """Give back this block's share of DEBUG logging."""
        if self._on:
            self._on = False
            disable()
