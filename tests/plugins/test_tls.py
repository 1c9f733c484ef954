"""tls: CERT KEY [CA], client_auth and keylog; a warning in plain DNS blocks; the transports
kdns refuses and the certificate that tls:// and https:// need, as `kdns check` reports them;
the TLS contexts the handler builds at start."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import pytest

from kdns.corefile import CorefileError
from kdns.plugins import default_registry
from kdns.plugins.base import BuildContext, PluginError, TlsServer
from kdns.plugins.testing import load_text, parse_error, parse_one, warnings
from kdns.plugins.tls import Tls, TlsConfig
from kdns.plugins.tls.config import ClientAuth
from kdns.plugins.tls.handler import server_context

from ..runtime.certs import Certs, make_certs

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
    ("tls c k {\nkeylog /tmp/keys\n}", TlsConfig("c", "k", keylog="/tmp/keys")),
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
    ("tls a b {\nkeylog\n}", 3, 1, "missing key log file"),
    ("tls a b\ntls c d", 3, 1, "can only be used once per server block"),
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


@pytest.mark.parametrize("scheme", ["grpc", "quic", "https3", "unix"])
def test_check_warns_about_transports_kdns_does_not_serve(scheme: str) -> None:
    """CoreDNS accepts these keys, so check passes, with a warning at the key."""
    model = load_text(f"dns://.:53 {{\n    whoami\n}}\n {scheme}://. {{\n    whoami\n}}\n")
    found = [w for w in model.warnings if "is not supported by kdns" in w.message]
    assert [(w.pos.line, w.pos.column) for w in found] == [(4, 2)]
    assert found[0].message.startswith(f"{scheme}:// is not supported by kdns; kdns serve will")


@pytest.mark.parametrize("scheme", ["tls", "https"])
def test_check_requires_a_certificate_for_tls_and_https(scheme: str) -> None:
    """tls:// and https:// without the tls plugin are an error at the key (CoreDNS: DoH
    requires TLS to be configured)."""
    with pytest.raises(CorefileError) as info:
        load_text(
            f".:53 {{\n    whoami\n}}\n{scheme}://.:8853 {scheme}://example.org {{\n  log\n}}\n"
        )
    found = [(e.pos.line, e.pos.column, e.message) for e in info.value.errors]
    assert [f[:2] for f in found] == [(4, 1), (4, len(f"{scheme}://.:8853 ") + 1)]
    assert found[0][2].startswith(f"{scheme}:// needs a server certificate: add 'tls CERT KEY'")


def test_a_broken_tls_line_is_reported_once() -> None:
    """A tls line that fails to parse is the only error, not also a missing certificate."""
    with pytest.raises(CorefileError) as info:
        load_text("tls://. {\n    tls cert.pem\n}\n")
    assert [e.message for e in info.value.errors] == ["missing key file (KEY) after 'cert.pem'"]


def test_tls_is_not_in_the_chain() -> None:
    """Like CoreDNS's tls, it configures the listener and never sees a query."""
    assert not default_registry()["tls"].in_chain


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.mark.parametrize(
    ("auth", "mode"),
    [
        ("nocert", ssl.CERT_NONE),
        ("request", ssl.CERT_OPTIONAL),
        ("require", ssl.CERT_REQUIRED),
        ("verify_if_given", ssl.CERT_OPTIONAL),
        ("require_and_verify", ssl.CERT_REQUIRED),
    ],
)
def test_contexts_follow_client_auth(certs: Certs, auth: ClientAuth, mode: ssl.VerifyMode) -> None:
    config = TlsConfig(str(certs.server_cert), str(certs.server_key), str(certs.ca), auth)
    ctx = server_context(config, "tls")
    assert ctx.verify_mode == mode
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


async def test_start_builds_contexts_relative_to_root(certs: Certs) -> None:
    """Relative file names start from the block's root; one context per transport."""
    model = load_text(
        f"tls://. https://. {{\n    root {certs.folder}\n"
        f"    tls {certs.server_cert.name} {certs.server_key.name}\n}}\n"
    )
    configs = {name: tuple(model.servers[0].configs(name)) for name in ("root", "tls")}
    handler = Tls(configs["tls"], None, BuildContext(zones=(".",), configs=configs))
    assert isinstance(handler, TlsServer)
    assert handler.server_context("tls") is None  # nothing is read before start
    await handler.start()
    assert handler.server_context("tls") is not None
    assert handler.server_context("https") is not handler.server_context("tls")


def test_unreadable_files_are_plugin_errors(certs: Certs, tmp_path: Path) -> None:
    config = TlsConfig(str(certs.server_cert), str(tmp_path / "nokey.pem"))
    with pytest.raises(PluginError, match=r"cannot load certificate .* with key .*nokey\.pem"):
        server_context(config, "https")
    config = TlsConfig(str(certs.server_cert), str(certs.server_key), str(tmp_path / "ca.pem"))
    with pytest.raises(PluginError, match=r"cannot load client CA .*ca\.pem"):
        server_context(replace(config, client_auth="require_and_verify"), "https")
