"""Logging through structlog: CoreDNS-style lines by default, JSON on request."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

LogFormat = Literal["text", "json"]


def _coredns_line(_: Any, method: str, event: MutableMapping[str, Any]) -> str:
    """Render `[LEVEL] logger: message key=value ...`, the shape CoreDNS logs in."""
    level = str(event.pop("level", method)).upper()
    if level == "WARN":
        level = "WARNING"
    name = event.pop("logger", "")
    message = str(event.pop("event", ""))
    exc = event.pop("exception", None)
    event.pop("timestamp", None)
    if level == "CRITICAL":
        level = "FATAL"  # CoreDNS's word; structlog maps fatal to critical
    # Query lines of the log plugin carry no logger name, as in CoreDNS.
    who = f"{name}: " if name and name != "plugin/log" and not name.startswith("kdns.") else ""
    extra = " ".join(f"{k}={v}" for k, v in event.items())
    line = f"[{level}] {who}{message}" + (f" {extra}" if extra else "")
    return line + (f"\n{exc}" if exc else "")


def setup(fmt: LogFormat = "text", *, stream: TextIO | None = None, debug: bool = False) -> None:
    """Configure structlog (and the stdlib root logger) for the whole process."""
    out = stream or sys.stdout
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else _coredns_line
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
    ]
    if fmt == "json":
        processors.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
    processors += [structlog.processors.format_exc_info, renderer]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if debug else logging.INFO
        ),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    # watchfiles says "N changes detected" at info on every Corefile event; not a kdns line,
    # and with `debug` a log file in the watched folder would log a change per line it logs.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
