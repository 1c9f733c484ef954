"""Fixtures shared by the test suite."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from kdns.runtime import logs

Lines = Callable[[], list[str]]
ROOT = Path(__file__).parents[1]


def pytest_sessionstart(session: pytest.Session) -> None:
    """A compiled module (`KDNS_COMPILE=1 pip install -e .`, setup.py) older than its source
    would test the old code: stop and say so."""
    stale = [
        str(ext.relative_to(ROOT))
        for package in ("corefile", "grammar", "plugins", "runtime")
        for ext in (ROOT / package).rglob("*.so")
        if (source := ext.with_name(ext.name.split(".")[0] + ".py")).exists()
        and source.stat().st_mtime > ext.stat().st_mtime
    ]
    if stale:
        pytest.exit(
            f"compiled modules older than their source: {', '.join(stale)}; rebuild with "
            "`KDNS_COMPILE=1 .venv/bin/pip install -e '.[test]'` (or delete them)",
            returncode=2,
        )


@contextlib.contextmanager
def _logging_to(buffer: io.StringIO, debug: bool = False) -> Iterator[logging.Handler]:
    """Log as `kdns serve` does into `buffer`; yield the handler; restore logging after."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.setup(stream=buffer, debug=debug)
    try:
        yield root.handlers[0]
    finally:
        structlog.configure(**saved)
        root.handlers[:], root.level = handlers, level


def _capture(debug: bool) -> Iterator[Lines]:
    buffer = io.StringIO()
    with _logging_to(buffer, debug) as handler:
        handler.addFilter(lambda record: record.name.startswith("plugin/"))
        yield lambda: buffer.getvalue().splitlines()


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Log as `kdns serve` does into a buffer; yield a reader of the plugins' lines so far."""
    yield from _capture(debug=False)


@pytest.fixture
def debug_lines() -> Iterator[Lines]:
    """Like `lines`, with debug-level lines too."""
    yield from _capture(debug=True)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every log line of the process (runtime included, from INFO), as `kdns serve` writes it."""
    buffer = io.StringIO()
    with _logging_to(buffer):
        yield buffer
