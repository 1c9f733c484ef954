"""errors handler: error lines, consolidation into summaries, show_first, stop, stacktrace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kdns.plugins.base import NOERROR, SERVFAIL, PluginError, Request
from kdns.plugins.errors.handler import Errors, go_duration
from kdns.plugins.testing import StubHandler, build, make_request, run

Lines = Callable[[], list[str]]
TIMEOUT = "read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout"


@pytest.fixture
def lines(debug_lines: Lines) -> Lines:
    """Debug level here: consolidated summaries may be logged at that level."""
    return debug_lines


class Failing:
    """A next handler raising a fixed plugin error, like forward with its upstream down."""

    name = "failing"

    def __init__(self, plugin: str = "forward", message: str = TIMEOUT) -> None:
        self.plugin = plugin
        self.message = message

    async def serve_dns(self, req: Request, w: object) -> int:
        raise PluginError(self.plugin, self.message)


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_errors(text: str, nxt: object) -> tuple[Errors, Clock]:
    handler = build(text, nxt)  # type: ignore[arg-type]
    assert isinstance(handler, Errors)
    clock = Clock()
    handler.clock = clock
    return handler, clock


async def test_error_becomes_a_line_and_servfail(lines: Lines) -> None:
    """The chain's error is logged with rcode, name and type; the server writes SERVFAIL."""
    handler, _ = make_errors("errors", Failing("forward", "no healthy proxies"))
    rcode, w = await run(handler, make_request("Example.ORG", "AAAA"))
    assert rcode == SERVFAIL
    assert w.replies == []
    assert lines() == [
        "[ERROR] plugin/errors: 2 example.org. AAAA: plugin/forward: no healthy proxies"
    ]


async def test_success_passes_through_silently(lines: Lines) -> None:
    stub = StubHandler(NOERROR, ("example.org. 60 IN A 192.0.2.1",))
    handler, _ = make_errors("errors", stub)
    rcode, w = await run(handler, make_request("example.org"))
    assert rcode == NOERROR
    assert len(w.reply.rr) == 1
    assert lines() == []


async def test_no_next_plugin_is_logged(lines: Lines) -> None:
    handler, _ = make_errors("errors", None)
    assert (await run(handler, make_request("example.org", "TXT")))[0] == SERVFAIL
    assert lines() == [
        "[ERROR] plugin/errors: 2 example.org. TXT: plugin/errors: no next plugin found"
    ]


async def test_stacktrace_adds_the_traceback(lines: Lines) -> None:
    handler, _ = make_errors("errors {\nstacktrace\n}", Failing())
    await run(handler, make_request("example.org"))
    out = lines()
    assert out[0] == f"[ERROR] plugin/errors: 2 example.org. A: plugin/forward: {TIMEOUT}"
    assert out[1] == "Traceback (most recent call last):"
    assert out[-1] == f"kdns.plugins.base.PluginError: plugin/forward: {TIMEOUT}"


@pytest.mark.parametrize(
    ("level", "tag"),
    [("", "ERROR"), ("warning", "WARNING"), ("info", "INFO"), ("debug", "DEBUG")],
)
async def test_consolidated_errors_give_one_summary_per_period(
    level: str, tag: str, lines: Lines
) -> None:
    """Matching errors are counted for the period after the first, then summarized once."""
    text = f'errors {{\nconsolidate 30s "^plugin/forward: .* i/o timeout$" {level}\n}}'
    handler, clock = make_errors(text, Failing())
    for _ in range(3):
        assert (await run(handler, make_request("example.org")))[0] == SERVFAIL
    assert lines() == []
    clock.now += 29.9
    assert handler.flush_due(clock.now) == 1030.0
    assert lines() == []
    clock.now += 0.1
    assert handler.flush_due(clock.now) is None
    summary = f"[{tag}] plugin/errors: 3 errors like '^plugin/forward: .* i/o timeout$' "
    assert lines() == [summary + "occurred in last 30s"]
    # the next error starts a new period
    await run(handler, make_request("example.org"))
    clock.now += 30
    handler.flush_due(clock.now)
    assert lines()[-1] == f"[{tag}] plugin/errors: 1 errors like " + summary.split("like ")[1] + (
        "occurred in last 30s"
    )


async def test_show_first_logs_the_first_at_once_and_counts_all(lines: Lines) -> None:
    """show_first: the first error at the rule's level now; a summary only if more followed."""
    text = 'errors {\nconsolidate 5m "i/o timeout$" warning show_first\n}'
    handler, clock = make_errors(text, Failing())
    await run(handler, make_request("example.org"))
    first = f"[WARNING] plugin/errors: 2 example.org. A: plugin/forward: {TIMEOUT}"
    assert lines() == [first]
    clock.now += 300
    handler.flush_due(clock.now)
    assert lines() == [first]  # one error: already shown, no summary
    for _ in range(3):
        await run(handler, make_request("example.org"))
    clock.now += 300
    handler.flush_due(clock.now)
    assert lines() == [
        first,
        first,
        "[WARNING] plugin/errors: 3 errors like 'i/o timeout$' occurred in last 5m0s",
    ]


async def test_first_matching_pattern_counts_and_others_are_logged(lines: Lines) -> None:
    text = 'errors {\nconsolidate 1m "timeout"\nconsolidate 1h "forward"\n}'
    handler, clock = make_errors(text, Failing())
    await run(handler, make_request("a.example"))
    handler.next = Failing("forward", "no healthy proxies")
    await run(handler, make_request("b.example"))
    handler.next = Failing("hosts", "bad file")
    await run(handler, make_request("c.example"))
    assert lines() == ["[ERROR] plugin/errors: 2 c.example. A: plugin/hosts: bad file"]
    clock.now += 3600
    handler.flush_due(clock.now)
    assert lines()[1:] == [
        "[ERROR] plugin/errors: 1 errors like 'timeout' occurred in last 1m0s",
        "[ERROR] plugin/errors: 1 errors like 'forward' occurred in last 1h0m0s",
    ]


async def test_stop_writes_pending_summaries_then_logs_each_error(lines: Lines) -> None:
    text = 'errors {\nconsolidate 1h "timeout"\n}'
    handler, _ = make_errors(text, Failing())
    await handler.start()
    await run(handler, make_request("example.org"))
    await run(handler, make_request("example.org"))
    await handler.stop()
    assert lines() == ["[ERROR] plugin/errors: 2 errors like 'timeout' occurred in last 1h0m0s"]
    await run(handler, make_request("example.org"))
    assert lines()[-1] == f"[ERROR] plugin/errors: 2 example.org. A: plugin/forward: {TIMEOUT}"


async def test_a_stop_right_after_an_error_ends_the_task(lines: Lines) -> None:
    """An error that wakes the summary task and a stop that cancels it land in the same turn:
    the cancel is not lost (asyncio.wait_for on Python 3.11 returned the wake-up instead and
    the task went back to waiting, so the stop, and a reload retiring the generation, waited
    forever)."""
    text = 'errors {\nconsolidate 1h "timeout"\nconsolidate 1h "refused"\n}'
    failing = Failing()
    handler, _ = make_errors(text, failing)
    await handler.start()
    await run(handler, make_request("example.org"))
    await asyncio.sleep(0.01)  # the task now waits for the end of the timeout period
    failing.message = "connection refused"
    await run(handler, make_request("example.org"))  # a new period: wakes the task...
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(handler.stop(), 3)  # ...and the stop lands in the same turn
    assert loop.time() - started < 1
    assert sorted(lines()) == [
        "[ERROR] plugin/errors: 1 errors like 'refused' occurred in last 1h0m0s",
        "[ERROR] plugin/errors: 1 errors like 'timeout' occurred in last 1h0m0s",
    ]


async def test_started_task_writes_the_summary_when_the_period_ends(lines: Lines) -> None:
    """The flush task started by start() wakes at the deadline (a 20ms period, real time)."""
    handler, _ = make_errors('errors {\nconsolidate 20ms "timeout"\n}', Failing())
    handler.clock = asyncio.get_running_loop().time
    await handler.start()
    try:
        await asyncio.sleep(0.03)  # the task idles with nothing counted
        await run(handler, make_request("example.org"))
        await run(handler, make_request("example.org"))
        for _ in range(100):
            if lines():
                break
            await asyncio.sleep(0.01)
        assert lines() == ["[ERROR] plugin/errors: 2 errors like 'timeout' occurred in last 20ms"]
    finally:
        await handler.stop()
    assert len(lines()) == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (30, "30s"),
        (300, "5m0s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (5400.5, "1h30m0.5s"),
        (1.5, "1.5s"),
        (0.02, "20ms"),
        (0.0015, "1.5ms"),
        (0.000002, "2µs"),
    ],
)
def test_periods_print_as_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
