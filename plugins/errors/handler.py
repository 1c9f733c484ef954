"""errors: logs the errors the rest of the chain raises, one line each or consolidated."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from kdns.plugins.base import (
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.errors.config import Consolidate, ErrorsConfig, LogLevel
from kdns.plugins.log.names import type_name

log = structlog.get_logger("plugin/errors")


def go_duration(seconds: float) -> str:
    """Render seconds as Go's time.Duration.String() does (`30s`, `5m0s`, `1h0m0s`, `1.5s`)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_decimal(ns, 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_decimal(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{_decimal(rest, 1_000_000_000)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


class Pattern:
    """One `consolidate` rule and the errors it has counted in the current period."""

    __slots__ = ("count", "deadline", "level", "rule", "summary")

    def __init__(self, rule: Consolidate) -> None:
        self.rule = rule
        self.level: LogLevel = rule.level
        self.summary = (
            f" errors like '{rule.pattern.pattern}' occurred in last {go_duration(rule.period)}"
        )
        self.count = 0
        self.deadline = 0.0


class Errors(Plugin[ErrorsConfig]):
    """Wraps the rest of the chain: a `PluginError` becomes a log line and SERVFAIL."""

    name = "errors"
    #: Has nothing to do for an answer served from bytes (no error can occur).
    fast_transparent = True

    def __init__(
        self, configs: tuple[ErrorsConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.patterns = tuple(Pattern(rule) for rule in self.config.consolidate)
        self.stacktrace = self.config.stacktrace
        #: Seconds clock the consolidation periods run on; tests replace it.
        self.clock: Callable[[], float] = time.monotonic
        self.stopped = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Run the rest of the chain; log what it raises and return SERVFAIL for it."""
        try:
            return await next_or_failure(self.name, self.next, req, w)
        except PluginError as exc:
            self.report(req, exc)
            return exc.rcode

    def report(self, req: Request, exc: PluginError) -> None:
        """Log one error, or count it when a consolidate pattern matches it."""
        text = str(exc)
        line = f"{SERVFAIL} {req.qname} {type_name(req.qtype)}: {text}"
        for pattern in self.patterns:
            if pattern.rule.pattern.search(text):
                if self._count(pattern, line, exc):
                    return
                break
        self._emit("error", line, exc)

    def _emit(self, level: LogLevel, line: str, exc: BaseException | None = None) -> None:
        if exc is not None and self.stacktrace:
            getattr(log, level)(line, exc_info=exc)
        else:
            getattr(log, level)(line)

    def _count(self, pattern: Pattern, line: str, exc: PluginError) -> bool:
        if self.stopped:
            return False  # a retired generation logs every error again, as CoreDNS does
        pattern.count += 1
        if pattern.count == 1:
            pattern.deadline = self.clock() + pattern.rule.period
            if pattern.rule.show_first:
                self._emit(pattern.level, line, exc)
            if self._wake is not None:
                self._wake.set()
        return True

    def _flush(self, pattern: Pattern) -> None:
        count, pattern.count = pattern.count, 0
        if count > (1 if pattern.rule.show_first else 0):
            self._emit(pattern.level, f"{count}{pattern.summary}")

    def flush_due(self, now: float) -> float | None:
        """Log the summaries whose period ended by `now`; return the next deadline, if any."""
        following: float | None = None
        for pattern in self.patterns:
            if not pattern.count:
                continue
            if pattern.deadline <= now:
                self._flush(pattern)
            elif following is None or pattern.deadline < following:
                following = pattern.deadline
        return following

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            following = self.flush_due(self.clock())
            if following is None:
                await wake.wait()
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, following - self.clock())):
                    await wake.wait()

    async def start(self) -> None:
        """Start the task that writes consolidated summaries when their periods end."""
        if self.patterns and self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(self._wake), name="errors-consolidate")

    async def stop(self) -> None:
        """Stop the task and write the summaries of periods still running."""
        self.stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pattern in self.patterns:
            if pattern.count:
                self._flush(pattern)
