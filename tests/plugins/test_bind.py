"""Table tests for the bind directive's syntax."""

from __future__ import annotations

import pytest

from kdns.corefile.model import ListenHosts
from kdns.plugins.bind import SPEC, BindConfig
from kdns.plugins.testing import load_text, parse_all, parse_error, parse_one

VALID = [
    ("bind 127.0.0.1", BindConfig(("127.0.0.1",))),
    ("bind 127.0.0.1 ::1", BindConfig(("127.0.0.1", "::1"))),
    # Addresses are written in their canonical form, and repeats dropped.
    ("bind 0:0:0:0:0:0:0:1 ::1", BindConfig(("::1",))),
    ("bind eth0 lo", BindConfig(("eth0", "lo"))),
    ("bind enp0s31f6 br-1a2b.100 veth_x:1", BindConfig(("enp0s31f6", "br-1a2b.100", "veth_x:1"))),
    ("bind 10.0.0.1 {\n}", BindConfig(("10.0.0.1",))),
    ("bind eth0 {\nexcept 192.168.1.10\n}", BindConfig(("eth0",), ("192.168.1.10",))),
    (
        "bind eth0 eth1 {\nexcept 192.168.1.10 fe80::1\nexcept eth1\n}",
        BindConfig(("eth0", "eth1"), ("192.168.1.10", "fe80::1", "eth1")),
    ),
]

INVALID = [
    ("bind", 2, 1, "missing address or interface name after 'bind'"),
    ("bind {\nexcept 10.0.0.1\n}", 2, 1, "at least one is expected"),
    ("bind 127.0.0.1 a/b", 2, 16, "'a/b' is not a valid IP address or interface name"),
    ("bind 127.0.0.1 {\nexcept\n}", 3, 1, "missing address or interface name after 'except'"),
    ("bind 127.0.0.1 {\nexcept a*b\n}", 3, 8, "'a*b' is not a valid IP address"),
    ("bind 127.0.0.1 {\nexept 10.0.0.1\n}", 3, 1, "did you mean 'except'?"),
    ("bind 127.0.0.1 {\nexcept 10.0.0.1 {\n}\n}", 3, 17, "'except' takes no block"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: BindConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "bind"


def test_listen_hosts_leaves_out_excepted_hosts() -> None:
    config = parse_one("bind 127.0.0.1 ::1 eth0 {\nexcept ::1\n}")
    assert isinstance(config, ListenHosts)
    assert config.listen_hosts() == ("127.0.0.1", "eth0")


def test_several_binds_are_combined() -> None:
    assert not SPEC.once
    assert parse_all("bind 127.0.0.1\nbind ::1") == (
        BindConfig(("127.0.0.1",)),
        BindConfig(("::1",)),
    )
    block = load_text(". {\n    bind 127.0.0.1\n    bind ::1 127.0.0.1\n}\n").servers[0]
    assert block.listen_hosts() == ("127.0.0.1", "::1")
