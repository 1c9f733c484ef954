"""acl: zones, actions (any case), type and net sections in any order, `*` for all."""

from __future__ import annotations

import ipaddress

import pytest

from kdns.plugins.acl import AclConfig, AclPolicy
from kdns.plugins.testing import parse_all, parse_error, parse_one

ZONE = ("example.org.",)
net = ipaddress.ip_network

VALID = [
    ("acl", AclConfig(ZONE)),
    ("acl {\n}", AclConfig(ZONE)),
    ("acl {\nblock\n}", AclConfig(ZONE, (AclPolicy("block"),))),
    (
        "acl {\nblock type A net 192.168.0.0/16\n}",
        AclConfig(ZONE, (AclPolicy("block", (1,), (net("192.168.0.0/16"),)),)),
    ),
    (
        "acl A.example.org b.example.org {\n"
        "ALLOW net 192.168.1.0/24 10.0.0.1 2001:db8::1\n"
        "Filter type AAAA MX\n}",
        AclConfig(
            ("a.example.org.", "b.example.org."),
            (
                AclPolicy(
                    "allow",
                    None,
                    (net("192.168.1.0/24"), net("10.0.0.1/32"), net("2001:db8::1/128")),
                ),
                AclPolicy("filter", (28, 15)),
            ),
        ),
    ),
    (
        "acl {\ndrop NET 10.0.0.0/8 TYPE ANY type HTTPS\n}",
        AclConfig(ZONE, (AclPolicy("drop", (255, 65), (net("10.0.0.0/8"),)),)),
    ),
    ("acl {\nblock type A * net *\n}", AclConfig(ZONE, (AclPolicy("block"),))),
    (
        "acl {\nblock net 10.1.2.3/8\n}",
        AclConfig(ZONE, (AclPolicy("block", None, (net("10.0.0.0/8"),)),)),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: AclConfig) -> None:
    assert parse_one(text) == expected


def test_rules_keep_their_order() -> None:
    configs = parse_all("acl a.org {\nallow\n}\nacl {\nblock\n}")
    assert [(c.zones, c.policies[0].action) for c in configs if isinstance(c, AclConfig)] == [
        (("a.org.",), "allow"),
        (("example.org.",), "block"),
    ]


INVALID = [
    ("acl {\npermit\n}", 3, 1, "unknown action 'permit'"),
    ("acl {\nallo\n}", 3, 1, "did you mean 'allow'?"),
    (
        "acl {\nallow 10.0.0.1\n}",
        3,
        7,
        "unexpected '10.0.0.1' after 'allow': expected 'type' or 'net'",
    ),
    ("acl {\nallow type\n}", 3, 7, "missing QTYPE after 'type'"),
    ("acl {\nallow net\n}", 3, 7, "missing SOURCE after 'net'"),
    ("acl {\nallow type net 10.0.0.1\n}", 3, 7, "missing QTYPE after 'type'"),
    ("acl {\nallow type a\n}", 3, 12, "invalid query type 'a' - write it in upper case: 'A'"),
    ("acl {\nallow type WHAT\n}", 3, 12, "invalid query type 'WHAT'"),
    ("acl {\nallow net 10.0.0.0/33\n}", 3, 11, "not a valid source network"),
    ("acl {\nallow net example.org\n}", 3, 11, "not a valid source network"),
    ("acl {\nallow {\n}\n}", 3, 7, "'allow' takes no block"),
    ("acl a..b", 2, 5, "not a valid domain name"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "acl"
