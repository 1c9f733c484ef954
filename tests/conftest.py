"""Fixtures shared by the test suite."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from kdns.runtime import logs

Lines = Callable[[], list[str]]


def _capture(debug: bool) -> Iterator[Lines]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    logs.setup(stream=buffer, debug=debug)
    root.handlers[0].addFilter(lambda record: record.name.startswith("plugin/"))
    yield lambda: buffer.getvalue().splitlines()
    structlog.configure(**saved)
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Log as `kdns serve` does into a buffer; yield a reader of the plugins' lines so far."""
    yield from _capture(debug=False)


@pytest.fixture
def debug_lines() -> Iterator[Lines]:
    """Like `lines`, with debug-level lines too."""
    yield from _capture(debug=True)
