"""ready handler: /ready answers from the server's readiness, by monitor mode."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from kdns.plugins.ready import Ready
from kdns.plugins.testing import build

TEXT = "text/plain; charset=utf-8"


class State:
    """A server state whose answers the test scripts: one list of not-ready names per ask."""

    def __init__(self, *answers: list[str], stopping: bool = False) -> None:
        self.answers = list(answers)
        self.stopping = stopping
        self.asked = 0

    def not_ready(self) -> list[str]:
        self.asked += 1
        return self.answers.pop(0)


def _ready(text: str = "ready") -> Ready:
    handler = build(text)
    assert isinstance(handler, Ready)
    return handler


def _replies(handler: Ready, state: State, times: int) -> list[tuple[int, bytes]]:
    route = handler.http_routes()["/ready"]
    replies = []
    for _ in range(times):
        status, ctype, body = route(state)
        assert ctype == TEXT
        replies.append((status, body))
    return replies


@pytest.mark.parametrize(
    ("monitor", "answers", "expected"),
    [
        (
            "until-ready",
            [["kubernetes"], [], ["kubernetes"]],
            [(503, b"kubernetes"), (200, b"OK"), (200, b"OK")],
        ),
        (
            "continuously",
            [["kubernetes"], [], ["kubernetes"]],
            [(503, b"kubernetes"), (200, b"OK"), (503, b"kubernetes")],
        ),
        (
            "until-ready",
            [["kubernetes", "erratic"], ["kubernetes"], ["erratic", "kubernetes"]],
            # erratic was ready once: it is not reported again
            [(503, b"erratic,kubernetes"), (503, b"kubernetes"), (503, b"kubernetes")],
        ),
        (
            "continuously",
            [["kubernetes", "erratic"], ["kubernetes"], ["erratic", "kubernetes"]],
            [(503, b"erratic,kubernetes"), (503, b"kubernetes"), (503, b"erratic,kubernetes")],
        ),
        ("until-ready", [[], [], []], [(200, b"OK")] * 3),
    ],
)
def test_monitor(monitor: str, answers: list[list[str]], expected: list[tuple[int, bytes]]) -> None:
    handler = _ready(f"ready {{\nmonitor {monitor}\n}}")
    assert _replies(handler, State(*answers), len(expected)) == expected


def test_until_ready_stops_asking_once_all_were_ready() -> None:
    state = State([], ["kubernetes"])
    assert _replies(_ready(), state, 3) == [(200, b"OK")] * 3
    assert state.asked == 1


def test_shutting_down() -> None:
    state = State([], stopping=True)
    assert _replies(_ready(), state, 1) == [(503, b"Shutting down")]
    assert state.asked == 0


def test_not_ready_is_logged() -> None:
    with capture_logs() as logs:
        _replies(_ready(), State(["kubernetes"]), 1)
    assert logs == [{"event": 'Plugins not ready: "kubernetes"', "log_level": "info"}]


def test_address() -> None:
    assert _ready().http_address() == ("", 8181)
    assert _ready("ready 127.0.0.1:8282").http_address() == ("127.0.0.1", 8282)
