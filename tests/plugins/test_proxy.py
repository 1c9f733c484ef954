"""proxy: every historic option parsed, always a deprecation warning, served as forward."""

from __future__ import annotations

import pytest

from kdns.plugins.forward import ForwardConfig, ResolvConf, TlsClient, Upstream
from kdns.plugins.proxy import DEPRECATION, HttpHealthCheck, ProxyConfig
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings

R = ResolvConf("/etc/resolv.conf")

VALID = [
    ("proxy . /etc/resolv.conf", ProxyConfig(".", (R,))),
    (
        "proxy Example.org 10.0.0.10:53 10.0.0.11:1053 10.0.0.12",
        ProxyConfig(
            "example.org.",
            (Upstream("10.0.0.10", 53), Upstream("10.0.0.11", 1053), Upstream("10.0.0.12", 53)),
        ),
    ),
    (
        "proxy myzone.net x.x.x.x:53 {\n"
        "policy round_robin\n"
        "fail_timeout 1s\n"
        "max_fails 1\n"
        "health_check /health:8080 10s\n"
        "report_health\n"
        "except miek.nl Example.org\n"
        "spray\n"
        "fallthrough SERVFAIL REFUSED\n"
        "protocol dns force_tcp\n"
        "}",
        ProxyConfig(
            "myzone.net.",
            (Upstream("x.x.x.x", 53, hostname=True),),
            policy="round_robin",
            fail_timeout=1.0,
            max_fails=1,
            health_check=HttpHealthCheck("/health", 8080, 10.0),
            report_health=True,
            ignored=("miek.nl.", "example.org."),
            spray=True,
            fallthrough_rcodes=(2, 5),
            force_tcp=True,
        ),
    ),
    (
        "proxy . 1.2.3.4 {\nhealth_check /health:8080\n}",
        ProxyConfig(".", (Upstream("1.2.3.4", 53),), health_check=HttpHealthCheck("/health", 8080)),
    ),
    (
        "proxy . 1.2.3.4 {\npolicy first\n}",
        ProxyConfig(".", (Upstream("1.2.3.4", 53),), policy="sequential"),
    ),
    ("proxy . 1.2.3.4 {\nprotocol dns\n}", ProxyConfig(".", (Upstream("1.2.3.4", 53),))),
    (
        "proxy . 1.2.3.4 {\nprotocol https_google bootstrap 1.1.1.1 9.9.9.9:5353\n}",
        ProxyConfig(
            ".",
            (Upstream("1.2.3.4", 53),),
            protocol="https_google",
            bootstrap=(("1.1.1.1", 53), ("9.9.9.9", 5353)),
        ),
    ),
    (
        "proxy . 1.2.3.4 {\nprotocol grpc insecure\n}",
        ProxyConfig(".", (Upstream("1.2.3.4", 53),), protocol="grpc"),
    ),
    (
        "proxy . 1.2.3.4 {\nprotocol grpc cert key ca\n}",
        ProxyConfig(
            ".",
            (Upstream("1.2.3.4", 53),),
            protocol="grpc",
            grpc_tls=TlsClient("cert", "key", "ca"),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: ProxyConfig) -> None:
    assert parse_one(text) == expected


def test_defaults_are_coredns_code_defaults() -> None:
    config = parse_one("proxy . 1.2.3.4")
    assert isinstance(config, ProxyConfig)
    assert (config.policy, config.fail_timeout, config.max_fails) == ("random", 5.0, 3)
    assert (config.protocol, config.health_check, config.spray) == ("dns", None, False)


def test_every_use_warns_with_the_replacement() -> None:
    found = [w for w in warnings("proxy . /etc/resolv.conf") if w.message == DEPRECATION]
    assert len(found) == 1
    assert (found[0].pos.line, found[0].pos.column) == (2, 1)
    assert "replace 'proxy' with 'forward'" in DEPRECATION
    assert "1.5.0" in DEPRECATION


def test_several_proxy_lines_are_allowed() -> None:
    configs = parse_all("proxy a.org 1.1.1.1\nproxy . 8.8.8.8")
    assert [c.from_zone for c in configs if isinstance(c, ProxyConfig)] == ["a.org.", "."]
    assert (
        len(
            [
                w
                for w in warnings("proxy a.org 1.1.1.1\nproxy . 8.8.8.8")
                if w.message == DEPRECATION
            ]
        )
        == 2
    )


AS_FORWARD = [
    ("proxy . /etc/resolv.conf", ForwardConfig(".", (R,), max_fails=3)),
    (
        "proxy . 1.2.3.4 5.6.7.8 {\n"
        "policy least_conn\nmax_fails 0\nexcept a.org\nprotocol dns force_tcp\n}",
        ForwardConfig(
            ".",
            (Upstream("1.2.3.4", 53), Upstream("5.6.7.8", 53)),
            ignored=("a.org.",),
            force_tcp=True,
            max_fails=0,
        ),
    ),
    (
        "proxy . 1.2.3.4 {\npolicy round_robin\n}",
        ForwardConfig(".", (Upstream("1.2.3.4", 53),), max_fails=3, policy="round_robin"),
    ),
    (
        "proxy example.org 1.2.3.4:53 {\nprotocol https_google\n}",
        ForwardConfig(
            "example.org.",
            (Upstream("8.8.8.8", 443, "https"), Upstream("8.8.4.4", 443, "https")),
            max_fails=3,
            tls_servername="dns.google",
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), AS_FORWARD)
def test_as_forward(text: str, expected: ForwardConfig) -> None:
    config = parse_one(text)
    assert isinstance(config, ProxyConfig)
    assert config.as_forward() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("proxy . 1.2.3.4 {\nprotocol https_google\n}", "protocol https_google"),
        ("proxy . 1.2.3.4 {\nprotocol grpc\n}", "protocol grpc cannot be served"),
    ],
)
def test_protocol_warnings(text: str, message: str) -> None:
    assert [w for w in warnings(text) if message in w.message]


INVALID = [
    ("proxy", 2, 1, "missing FROM zone after 'proxy'"),
    ("proxy .", 2, 7, "missing upstream after '.'"),
    ("proxy . tls://1.1.1.1", 2, 9, "'tls' is not supported as a destination protocol in proxy"),
    ("proxy . " + " ".join(f"10.0.0.{i}" for i in range(1, 17)), 2, 150, "more than 15 TOs"),
    ("proxy . 1.2.3.4 {\npolicy fastest\n}", 3, 8, "unknown policy 'fastest'"),
    ("proxy . 1.2.3.4 {\nfail_timeout 5\n}", 3, 14, "a unit is required"),
    ("proxy . 1.2.3.4 {\nmax_fails -1\n}", 3, 11, "out of range"),
    ("proxy . 1.2.3.4 {\nhealth_check /health\n}", 3, 14, "has no port"),
    ("proxy . 1.2.3.4 {\nhealth_check /health:http\n}", 3, 14, "is not a whole number"),
    ("proxy . 1.2.3.4 {\nexcept\n}", 3, 1, "missing domain to exclude"),
    ("proxy . 1.2.3.4 {\nfallthrough NXDOMAIN\n}", 3, 13, "unknown fallthrough rcode 'NXDOMAIN'"),
    ("proxy . 1.2.3.4 {\nprotocol http\n}", 3, 10, "unknown protocol 'http'"),
    ("proxy . 1.2.3.4 {\nprotocol dns udp\n}", 3, 14, "only force_tcp is allowed"),
    ("proxy . 1.2.3.4 {\nprotocol https_google 8.8.8.8\n}", 3, 23, "write https_google [bootstrap"),
    ("proxy . 1.2.3.4 {\nprotocol https_google bootstrap\n}", 3, 23, "missing bootstrap address"),
    ("proxy . 1.2.3.4 {\nprotocol grpc a b c d\n}", 3, 21, "at most 3 files"),
    ("proxy . 1.2.3.4 {\nspray now\n}", 3, 7, "'spray' takes no arguments"),
    ("proxy . 1.2.3.4 {\nforce_tcp\n}", 3, 1, "unknown property 'force_tcp'"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "proxy"
