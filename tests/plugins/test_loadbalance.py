"""loadbalance: policies, weighted reload, prefer networks, and the errors."""

from __future__ import annotations

import ipaddress

import pytest

from kdns.plugins.loadbalance import LoadbalanceConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings

net = ipaddress.ip_network


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loadbalance", LoadbalanceConfig("round_robin", None, 30.0, ())),
        ("loadbalance {\n}", LoadbalanceConfig("round_robin", None, 30.0, ())),
        ("loadbalance round_robin", LoadbalanceConfig("round_robin", None, 30.0, ())),
        ("loadbalance weighted wfile", LoadbalanceConfig("weighted", "wfile", 30.0, ())),
        (
            "loadbalance weighted ./db.example.com.weights {\nreload 10s\n}",
            LoadbalanceConfig("weighted", "./db.example.com.weights", 10.0, ()),
        ),
        ("loadbalance weighted wf {\nreload 0s\n}", LoadbalanceConfig("weighted", "wf", 0.0, ())),
        (
            "loadbalance {\nprefer 10.0.0.0/8 fd00::/8\n}",
            LoadbalanceConfig(prefer=(net("10.0.0.0/8"), net("fd00::/8"))),
        ),
        (
            "loadbalance round_robin {\nprefer 192.168.1.7/24\nprefer 10.1.0.0/16\n}",
            LoadbalanceConfig(prefer=(net("192.168.1.0/24"), net("10.1.0.0/16"))),
        ),
        ("loadbalance {\nprefer\n}", LoadbalanceConfig()),
    ],
)
def test_valid(text: str, expected: LoadbalanceConfig) -> None:
    assert parse_one(text) == expected


def test_may_repeat() -> None:
    configs = parse_all("loadbalance round_robin\nloadbalance weighted wf")
    assert configs == (LoadbalanceConfig(), LoadbalanceConfig("weighted", "wf"))


def test_empty_prefer_warns() -> None:
    found = [w for w in warnings("loadbalance {\nprefer\n}") if "prefer" in w.message]
    assert [(w.pos.line, w.pos.column) for w in found] == [(3, 1)]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("loadbalance fleeb", 2, 13, "unknown policy 'fleeb'"),
        ("loadbalance roundrobin", 2, 13, "did you mean 'round_robin'?"),
        ("loadbalance round_robin a", 2, 25, "unexpected argument 'a'"),
        ("loadbalance weighted", 2, 13, "missing WEIGHTFILE after 'weighted'"),
        ("loadbalance weighted a b", 2, 24, "unexpected argument 'b'"),
        ("loadbalance weighted wfile {\nsusu\n}", 3, 1, "unknown property 'susu'"),
        ("loadbalance weighted wfile {\nreload a\n}", 3, 8, "'a' is not a reload duration"),
        ("loadbalance weighted wfile {\nreload\n}", 3, 1, "missing DURATION after 'reload'"),
        ("loadbalance weighted wfile {\nreload 30s a\n}", 3, 12, "unexpected argument 'a'"),
        ("loadbalance weighted wfile {\nreload -1s\n}", 3, 8, "must be at least 0s"),
        ("loadbalance weighted w {\nprefer 10.0.0.0/8\n}", 3, 1, "'prefer' works only with"),
        ("loadbalance {\nreload 10s\n}", 3, 1, "'reload' applies only to the weighted policy"),
        ("loadbalance {\nprefer 10.0.0.1\n}", 3, 8, "'10.0.0.1' is not a network"),
        ("loadbalance {\nprefer 10.0.0.0/33\n}", 3, 8, "'10.0.0.0/33' is not a valid network"),
        ("loadbalance {\nprefer 10.0.0.0/8 {\n}\n}", 3, 19, "'prefer' takes no block"),
        ("loadbalance {\nprefr 10.0.0.0/8\n}", 3, 1, "did you mean 'prefer'?"),
    ],
)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column), error.message
    assert message in error.message
