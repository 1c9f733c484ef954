"""hosts: file, zones, inline lines and options; the inline-after-fallthrough rule."""

from __future__ import annotations

import pytest

from kdns.corefile.syntax import Fallthrough
from kdns.plugins.hosts import HostsConfig, HostsEntry
from kdns.plugins.testing import parse_error, parse_one

ZONE = ("example.org.",)

VALID = [
    ("hosts", HostsConfig(ZONE)),
    ("hosts example.hosts", HostsConfig(ZONE, path="example.hosts")),
    (
        "hosts example.hosts Example.net 10.0.0.0/8",
        HostsConfig(("example.net.", "10.in-addr.arpa."), path="example.hosts"),
    ),
    (
        "hosts /etc/coredns/NodeHosts {\nttl 60\nreload 15s\nfallthrough\n}",
        HostsConfig(ZONE, "/etc/coredns/NodeHosts", ttl=60, reload=15.0, fallthrough=Fallthrough()),
    ),
    (
        "hosts {\n"
        "10.0.0.1 Example.org www.example.org\n"
        "fdfc:a744:27b5:3b0e::1 v6.example.org\n"
        "fe80::1%eth0 link.example.org\n"
        "no_reverse\n"
        "reload 0\n"
        "fallthrough in-addr.arpa\n"
        "fallthrough_unsupported\n"
        "ttl 1\n"
        "}",
        HostsConfig(
            ZONE,
            entries=(
                HostsEntry("10.0.0.1", ("example.org.", "www.example.org.")),
                HostsEntry("fdfc:a744:27b5:3b0e::1", ("v6.example.org.",)),
                HostsEntry("fe80::1%eth0", ("link.example.org.",)),
            ),
            ttl=1,
            no_reverse=True,
            reload=0.0,
            fallthrough=Fallthrough(("in-addr.arpa.",)),
            fallthrough_unsupported=True,
        ),
    ),
    ("hosts {\nttl 65535\n}", HostsConfig(ZONE, ttl=65535)),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: HostsConfig) -> None:
    assert parse_one(text) == expected


def test_defaults() -> None:
    config = parse_one("hosts")
    assert isinstance(config, HostsConfig)
    assert (config.path, config.ttl, config.reload) == ("/etc/hosts", 3600, 5.0)
    assert (config.no_reverse, config.fallthrough, config.entries) == (False, None, ())


def test_zones_default_to_every_block_zone() -> None:
    config = parse_one("hosts", keys="example.hosts example.org")
    assert isinstance(config, HostsConfig)
    assert config.zones == ("example.hosts.", "example.org.")


INVALID = [
    ("hosts\nhosts", 3, 1, "only be used once per server block"),
    ("hosts {\nttl 0\n}", 3, 5, "ttl 0 is out of range"),
    ("hosts {\nttl 65536\n}", 3, 5, "out of range"),
    ("hosts {\nttl 1h\n}", 3, 5, "is not a whole number"),
    ("hosts {\nttl\n}", 3, 1, "missing TTL in seconds after 'ttl'"),
    ("hosts {\nttl 60 70\n}", 3, 8, "unexpected argument '70'"),
    ("hosts {\nreload\n}", 3, 1, "missing DURATION"),
    ("hosts {\nreload 5\n}", 3, 8, "a unit is required"),
    ("hosts {\nreload -1s\n}", 3, 8, "must be at least 0s"),
    ("hosts {\nno_reverse please\n}", 3, 12, "'no_reverse' takes no arguments"),
    ("hosts {\nfallthrough_unsupported a\n}", 3, 25, "takes no arguments"),
    ("hosts {\nfallthrough\n10.0.0.1 a.example.org\n}", 4, 1, "must come before 'fallthrough'"),
    ("hosts {\nfallthrough\nttll 5\n}", 4, 1, "unknown property 'ttll' - did you mean 'ttl'?"),
    ("hosts {\n10.0.0.1\n}", 3, 1, "missing host name after '10.0.0.1'"),
    ("hosts {\n10.0.0.256 a.example.org\n}", 3, 1, "'10.0.0.256' is neither an IP address"),
    ("hosts {\nrelaod 5s\n}", 3, 1, "did you mean 'reload'?"),
    ("hosts {\n10.0.0.1 bad..name\n}", 3, 10, "not a valid domain name"),
    ("hosts /etc/hosts a..b", 2, 18, "not a valid domain name"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "hosts"
