"""Server block keys become zones, ports and transports as in CoreDNS's normaliser."""

from __future__ import annotations

import pytest

from kdns.corefile import CorefileError, Position, Word
from kdns.corefile.addresses import split_key

AT = Position("Corefile", 1, 1)


def keys(text: str, default_port: int = 53) -> list[str]:
    return [str(a) for a in split_key(Word(text, AT), default_port)]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("example.org", ["dns://example.org.:53"]),
        ("example.org.", ["dns://example.org.:53"]),
        ("EXAMPLE.Org", ["dns://example.org.:53"]),
        ("example.org:1053", ["dns://example.org.:1053"]),
        ("example.org:053", ["dns://example.org.:53"]),
        (".", ["dns://.:53"]),
        (".:53", ["dns://.:53"]),
        ("dns://.:5300", ["dns://.:5300"]),
        ("tls://example.org", ["tls://example.org.:853"]),
        ("quic://example.org", ["quic://example.org.:853"]),
        ("grpc://example.org", ["grpc://example.org.:443"]),
        ("https://example.org.", ["https://example.org.:443"]),
        ("https://.:8443", ["https://.:8443"]),
        ("example.org:abc", ["dns://example.org:abc.:53"]),
        ("example.org,example.com:1053", ["dns://example.org,example.com.:1053"]),
        ("10.0.0.0/8:53", ["dns://10.in-addr.arpa.:53"]),
        ("10.0.0.0/16", ["dns://0.10.in-addr.arpa.:53"]),
        ("10.0.0.0/24", ["dns://0.0.10.in-addr.arpa.:53"]),
        (
            "192.168.1.1/23",
            ["dns://0.168.192.in-addr.arpa.:53", "dns://1.168.192.in-addr.arpa.:53"],
        ),
        ("10.0.0.0/15", ["dns://0.10.in-addr.arpa.:53", "dns://1.10.in-addr.arpa.:53"]),
        (
            "10.129.60.0/22",
            [f"dns://{n}.129.10.in-addr.arpa.:53" for n in (60, 61, 62, 63)],
        ),
        ("2001:db8::/32", ["dns://8.b.d.0.1.0.0.2.ip6.arpa.:53"]),
        ("0.0.0.0/0", ["dns://in-addr.arpa.:53"]),
    ],
)
def test_key_to_zones(key: str, expected: list[str]) -> None:
    """Keys normalise to transport://zone:port; CIDRs to reverse zones."""
    assert keys(key) == expected


def test_non_octet_prefixes_split_into_every_reverse_zone() -> None:
    """/27 gives 32 zones, /29 of IPv6 gives 8 nibble zones, /113 gives 8, all in order."""
    v4 = keys("10.0.0.0/27")
    assert len(v4) == 32
    assert v4[0] == "dns://0.0.0.10.in-addr.arpa.:53"
    assert v4[-1] == "dns://31.0.0.10.in-addr.arpa.:53"
    v6 = keys("2001:db8::/29")
    assert [z.split(".")[0] for z in v6] == ["dns://" + c for c in "89abcdef"]
    assert keys("2001:db8::/113")[7].startswith("dns://7.0.0.0.0")
    assert len(keys("10.0.0.0/17")) == 128


def test_default_port_follows_dns_port_flag_for_dns_only() -> None:
    """-dns.port changes the default for dns:// keys, not for other transports or explicit ports."""
    assert keys("example.org", default_port=1053) == ["dns://example.org.:1053"]
    assert keys("tls://example.org", default_port=1053) == ["tls://example.org.:853"]
    assert keys("example.org:54", default_port=1053) == ["dns://example.org.:54"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (":53", "has no zone"),
        ("example.org:", "ends in ':'"),
        ("example.org:99999", "out of range"),
        (".example.org", "not a valid domain name"),
        ("a..b", "not a valid domain name"),
        ("x" * 64 + ".org", "not a valid domain name"),
        ("x" * 256, "too long"),
        ("0::/64", "invalid CIDR"),
        ("::/0", "invalid CIDR"),
        ("ftp://example.org", "unknown transport"),
        ("example.org{", "put a space before '{'"),
    ],
)
def test_bad_keys(key: str, message: str) -> None:
    """Bad keys are errors at the key's position."""
    with pytest.raises(CorefileError) as info:
        keys(key)
    assert message in info.value.errors[0].message
    assert info.value.pos == AT
