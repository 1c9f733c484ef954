"""transfer: zones, the required `to` (addresses or `*`) and `source`."""

from __future__ import annotations

import pytest

from kdns.plugins.testing import parse_all, parse_error, parse_one
from kdns.plugins.transfer import TransferConfig

ZONE = ("example.org.",)

VALID = [
    ("transfer {\nto *\n}", TransferConfig(ZONE, anyone=True)),
    ("transfer {\nto * 10.240.1.1\n}", TransferConfig(ZONE, (("10.240.1.1", 53),), anyone=True)),
    (
        "transfer Example.org example.net {\nto 10.0.0.1:5300 [2001:db8::1]:54 2001:db8::2\n}",
        TransferConfig(
            ("example.org.", "example.net."),
            (("10.0.0.1", 5300), ("2001:db8::1", 54), ("2001:db8::2", 53)),
        ),
    ),
    (
        "transfer {\nto 10.0.0.1\nto 10.0.0.2 10.0.0.1\nsource 10.0.0.9\n}",
        TransferConfig(ZONE, (("10.0.0.1", 53), ("10.0.0.2", 53)), source="10.0.0.9"),
    ),
    ("transfer 10.0.0.0/8 {\nto *\n}", TransferConfig(("10.in-addr.arpa.",), anyone=True)),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: TransferConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(
    ("text", "client", "allowed"),
    [
        ("transfer {\nto *\n}", "192.0.2.1", True),
        ("transfer {\nto 10.0.0.1:5300\n}", "10.0.0.1", True),
        ("transfer {\nto 10.0.0.1\n}", "10.0.0.2", False),
        ("transfer {\nto 2001:db8::1\n}", "2001:db8:0::1", True),
    ],
)
def test_allows(text: str, client: str, allowed: bool) -> None:
    config = parse_one(text)
    assert isinstance(config, TransferConfig)
    assert config.allows(client) is allowed


def test_several_transfer_directives() -> None:
    configs = parse_all("transfer a.org {\nto *\n}\ntransfer b.org {\nto 10.0.0.1\n}")
    assert [c.zones for c in configs if isinstance(c, TransferConfig)] == [("a.org.",), ("b.org.",)]


INVALID = [
    ("transfer", 2, 1, "'to' is required"),
    ("transfer {\n}", 2, 1, "'to' is required"),
    ("transfer {\nsource 10.0.0.1\n}", 2, 1, "'to' is required"),
    ("transfer {\nto\n}", 3, 1, "missing address or '*' after 'to'"),
    ("transfer {\nto ns1.example.org\n}", 3, 4, "transfer 'to' takes addresses, not names"),
    ("transfer {\nto 10.0.0.1:0\n}", 3, 4, "out of range"),
    ("transfer {\nto *\nsource\n}", 4, 1, "missing source IP address"),
    ("transfer {\nto *\nsource eth0\n}", 4, 8, "not a valid source IP address"),
    ("transfer {\nto *\nsource 10.0.0.1 10.0.0.2\n}", 4, 17, "unexpected argument"),
    ("transfer {\nfrom *\n}", 3, 1, "unknown property 'from'"),
    ("transfer a..b {\nto *\n}", 2, 10, "not a valid domain name"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "transfer"
