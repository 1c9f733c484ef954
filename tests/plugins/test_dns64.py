"""dns64: the prefix (argument or property), translate_all, allow_ipv4 and the errors."""

from __future__ import annotations

from ipaddress import IPv6Network

import pytest

from kdns.plugins.dns64 import DEFAULT_PREFIX, Dns64Config
from kdns.plugins.testing import parse_all, parse_error, parse_one

VALID = [
    pytest.param("dns64", Dns64Config(), id="defaults"),
    pytest.param("dns64 64:1337::/96", Dns64Config(IPv6Network("64:1337::/96")), id="shorthand"),
    pytest.param(
        "dns64 2001:db8::1/32", Dns64Config(IPv6Network("2001:db8::/32")), id="host-bits-masked"
    ),
    pytest.param(
        "dns64 {\n  prefix 64:1337::/64\n}", Dns64Config(IPv6Network("64:1337::/64")), id="prefix"
    ),
    pytest.param(
        "dns64 {\n  translate_all\n  allow_ipv4\n}",
        Dns64Config(DEFAULT_PREFIX, translate_all=True, allow_ipv4=True),
        id="flags",
    ),
    pytest.param(
        "dns64 64:1::/48 {\n  translate_all\n}",
        Dns64Config(IPv6Network("64:1::/48"), translate_all=True),
        id="prefix-and-block",
    ),
    pytest.param("dns64 {\n}", Dns64Config(), id="empty-block"),
]


@pytest.mark.parametrize(("text", "want"), VALID)
def test_valid(text: str, want: Dns64Config) -> None:
    """Each valid directive gives exactly the expected config, defaults included."""
    assert parse_one(text) == want


def test_default_prefix_is_well_known() -> None:
    """The default prefix is RFC 6052's 64:ff9b::/96."""
    assert Dns64Config().prefix == IPv6Network("64:ff9b::/96")


def test_may_repeat() -> None:
    """CoreDNS does not limit dns64 to once per block; each line gets a config."""
    assert len(parse_all("dns64\ndns64 64:1::/96")) == 2


INVALID = [
    pytest.param("dns64 64:ff9b::", (2, 7, "has no length"), id="no-length"),
    pytest.param("dns64 10.0.0.0/8", (2, 7, "is IPv4"), id="ipv4"),
    pytest.param("dns64 nope/96", (2, 7, "not a valid IPv6 prefix"), id="garbage"),
    pytest.param("dns64 64::/100", (2, 7, "prefix length /100"), id="too-long"),
    pytest.param("dns64 64::/24", (2, 7, "prefix length /24"), id="too-short"),
    pytest.param("dns64 64::/60", (2, 7, "use 32, 40, 48, 56, 64 or 96"), id="not-octet"),
    pytest.param("dns64 64::/96 64:1::/96", (2, 15, "unexpected argument"), id="two-prefixes"),
    pytest.param("dns64 {\n  prefix\n}", (3, 3, "missing PREFIX after 'prefix'"), id="prefix-0"),
    pytest.param(
        "dns64 {\n  prefix 64::/96 x\n}", (3, 18, "unexpected argument 'x'"), id="prefix-2"
    ),
    pytest.param(
        "dns64 {\n  translate_all yes\n}", (3, 17, "unexpected argument 'yes'"), id="flag-arg"
    ),
    pytest.param(
        "dns64 {\n  translateall\n}",
        (3, 3, "unknown property 'translateall' - did you mean 'translate_all'?"),
        id="unknown",
    ),
]


@pytest.mark.parametrize(("text", "want"), INVALID)
def test_invalid(text: str, want: tuple[int, int, str]) -> None:
    """Each invalid directive fails at the offending word with a clear message."""
    err = parse_error(text)
    line, column, message = want
    assert (err.pos.line, err.pos.column) == (line, column), err.message
    assert message in err.message
