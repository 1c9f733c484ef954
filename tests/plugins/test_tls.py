"""tls: CERT KEY [CA] and client_auth; a warning in plain DNS blocks."""

from __future__ import annotations

import pytest

from kdns.plugins.testing import parse_error, parse_one, warnings
from kdns.plugins.tls import TlsConfig

VALID = [
    ("tls cert.pem key.pem", TlsConfig("cert.pem", "key.pem")),
    ("tls cert.pem key.pem ca.pem", TlsConfig("cert.pem", "key.pem", "ca.pem")),
    ("tls c k {\n}", TlsConfig("c", "k")),
    (
        "tls c k ca {\nclient_auth require_and_verify\n}",
        TlsConfig("c", "k", "ca", "require_and_verify"),
    ),
    ("tls c k {\nclient_auth request\n}", TlsConfig("c", "k", client_auth="request")),
    ("tls c k {\nclient_auth require\n}", TlsConfig("c", "k", client_auth="require")),
    (
        "tls c k {\nclient_auth verify_if_given\n}",
        TlsConfig("c", "k", client_auth="verify_if_given"),
    ),
    ("tls c k {\nclient_auth nocert\n}", TlsConfig("c", "k", client_auth="nocert")),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: TlsConfig) -> None:
    assert parse_one(text, keys="tls://.:853") == expected


@pytest.mark.parametrize(
    "keys", ["tls://.", "https://.", "grpc://.", "quic://.", "tls://. dns://."]
)
def test_no_warning_in_encrypted_blocks(keys: str) -> None:
    assert not [w for w in warnings("tls c k", keys=keys) if "no effect" in w.message]


def test_warning_in_plain_dns_block() -> None:
    found = [w for w in warnings("tls c k", keys=".:53") if "no effect" in w.message]
    assert len(found) == 1
    assert (found[0].pos.line, found[0].pos.column) == (2, 1)


INVALID = [
    ("tls", 2, 1, "missing certificate file (CERT) after 'tls'"),
    ("tls cert.pem", 2, 5, "missing key file (KEY) after 'cert.pem'"),
    ("tls a b c d", 2, 11, "unexpected argument 'd' to 'tls'"),
    ("tls a b {\nclient_auth\n}", 3, 1, "missing client authentication type"),
    ("tls a b {\nclient_auth verify\n}", 3, 13, "unknown authentication type 'verify'"),
    ("tls a b {\nclient_auth request require\n}", 3, 21, "unexpected argument 'require'"),
    (
        "tls a b {\nclientauth request\n}",
        3,
        1,
        "unknown property 'clientauth' - did you mean 'client_auth'?",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text, keys="tls://.")
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "tls"
