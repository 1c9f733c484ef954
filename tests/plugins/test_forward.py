"""forward: the directive text to the config, and the errors CoreDNS gives (as kdns words them)."""

from __future__ import annotations

import pytest

from kdns.plugins.forward import ForwardConfig, HealthCheck, ResolvConf, TlsClient, Upstream
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings

G = Upstream("8.8.8.8", 53)

VALID = [
    ("forward . 8.8.8.8", ForwardConfig(".", (G,))),
    ("forward example.ORG 8.8.8.8", ForwardConfig("example.org.", (G,))),
    ("forward . dns://8.8.8.8:5353", ForwardConfig(".", (Upstream("8.8.8.8", 5353),))),
    (
        "forward . [2003::1]:53 2003::2",
        ForwardConfig(".", (Upstream("2003::1", 53), Upstream("2003::2", 53))),
    ),
    ("forward . fe80::1%eth0", ForwardConfig(".", (Upstream("fe80::1%eth0", 53),))),
    ("forward . tls://9.9.9.9", ForwardConfig(".", (Upstream("9.9.9.9", 853, "tls"),))),
    ("forward . tls://9.9.9.9:8853", ForwardConfig(".", (Upstream("9.9.9.9", 8853, "tls"),))),
    (
        "forward . tls://1.1.1.1%cloudflare-dns.com tls://9.9.9.9%dns.quad9.net:8853",
        ForwardConfig(
            ".",
            (
                Upstream("1.1.1.1", 853, "tls", "cloudflare-dns.com"),
                Upstream("9.9.9.9", 8853, "tls", "dns.quad9.net"),
            ),
        ),
    ),
    (
        "forward . tls://[2620:fe::fe%dns.quad9.net]:853",
        ForwardConfig(".", (Upstream("2620:fe::fe", 853, "tls", "dns.quad9.net"),)),
    ),
    ("forward . https://1.1.1.1", ForwardConfig(".", (Upstream("1.1.1.1", 443, "https"),))),
    ("forward . /etc/resolv.conf", ForwardConfig(".", (ResolvConf("/etc/resolv.conf"),))),
    ("forward . ./resolv.conf", ForwardConfig(".", (ResolvConf("./resolv.conf"),))),
    (
        "forward . Dns.Google tls://dns.google:8853",
        ForwardConfig(
            ".",
            (
                Upstream("dns.google", 53, hostname=True),
                Upstream("dns.google", 8853, "tls", hostname=True),
            ),
        ),
    ),
    ("forward 10.0.0.0/8 8.8.8.8", ForwardConfig("10.in-addr.arpa.", (G,))),
    ("forward . 8.8.8.8 {\n}", ForwardConfig(".", (G,))),
    (
        "forward . 8.8.8.8 {\n"
        "except example.org Sub.Example.net\n"
        "except example.com\n"
        "force_tcp\n"
        "prefer_udp\n"
        "expire 30s\n"
        "max_fails 0\n"
        "max_connect_attempts 3\n"
        "tls cert.pem key.pem ca.pem\n"
        "tls_servername dns.google\n"
        "policy sequential\n"
        "health_check 5s no_rec domain Example.com\n"
        "max_concurrent 1000\n"
        "max_idle_conns 10\n"
        "max_age 1m\n"
        "next nxdomain SERVFAIL\n"
        "next_on_nodata\n"
        "failfast_all_unhealthy_upstreams\n"
        "failover REFUSED notimpl\n"
        "resolver 1.1.1.1 [::1]:5353\n"
        "read_timeout 500ms\n"
        "doh_method get\n"
        "source_address 10.0.0.1\n"
        "}",
        ForwardConfig(
            ".",
            (G,),
            ignored=("example.org.", "sub.example.net.", "example.com."),
            force_tcp=True,
            prefer_udp=True,
            expire=30.0,
            max_fails=0,
            max_connect_attempts=3,
            tls=TlsClient("cert.pem", "key.pem", "ca.pem"),
            tls_servername="dns.google",
            policy="sequential",
            health_check=HealthCheck(5.0, recursion_desired=False, domain="example.com."),
            max_concurrent=1000,
            max_idle_conns=10,
            max_age=60.0,
            next_rcodes=(3, 2),
            next_on_nodata=True,
            failfast_all_unhealthy_upstreams=True,
            failover_rcodes=(5, 4),
            resolvers=(("1.1.1.1", 53), ("::1", 5353)),
            read_timeout=0.5,
            doh_method="GET",
            source_address="10.0.0.1",
        ),
    ),
    ("forward . 8.8.8.8 {\ntls\n}", ForwardConfig(".", (G,), tls=TlsClient())),
    ("forward . 8.8.8.8 {\ntls ca.pem\n}", ForwardConfig(".", (G,), tls=TlsClient(ca="ca.pem"))),
    ("forward . 8.8.8.8 {\ntls c k\n}", ForwardConfig(".", (G,), tls=TlsClient("c", "k"))),
    (
        "forward . 8.8.8.8 {\nhealth_check 0\n}",
        ForwardConfig(".", (G,), health_check=HealthCheck(0.0)),
    ),
    (
        "forward . 8.8.8.8 {\nexcept 10.0.0.0/15\n}",
        ForwardConfig(".", (G,), ignored=("0.10.in-addr.arpa.", "1.10.in-addr.arpa.")),
    ),
    (
        "forward . 8.8.8.8 { max_fails 5 }",
        ForwardConfig(".", (G,), max_fails=5),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: ForwardConfig) -> None:
    assert parse_one(text) == expected


def test_defaults() -> None:
    config = parse_one("forward . 8.8.8.8")
    assert isinstance(config, ForwardConfig)
    assert (config.policy, config.max_fails, config.expire) == ("random", 2, 10.0)
    assert config.health_check == HealthCheck(0.5, True, ".")
    assert (config.read_timeout, config.doh_method, config.max_concurrent) == (2.0, "POST", 0)


def test_several_stanzas_keep_their_order() -> None:
    configs = parse_all("forward a.org 1.1.1.1\nforward . 8.8.8.8\nforward . 9.9.9.9")
    assert [c.from_zone for c in configs if isinstance(c, ForwardConfig)] == ["a.org.", ".", "."]


def test_fifteen_upstreams_are_allowed() -> None:
    text = "forward . " + " ".join(f"10.0.0.{i}" for i in range(1, 16))
    config = parse_one(text)
    assert isinstance(config, ForwardConfig)
    assert len(config.upstreams()) == 15


def test_files_and_upstreams_are_told_apart() -> None:
    config = parse_one("forward . /etc/resolv.conf 8.8.8.8")
    assert isinstance(config, ForwardConfig)
    assert config.files() == (ResolvConf("/etc/resolv.conf"),)
    assert config.upstreams() == (G,)


INVALID = [
    ("forward", 2, 1, "missing FROM zone after 'forward'"),
    ("forward .", 2, 9, "missing upstream after '.'"),
    ("forward . grpc://1.1.1.1", 2, 11, "'grpc' is not supported as a destination protocol"),
    ("forward . quic://1.1.1.1", 2, 11, "'quic' is not supported"),
    ("forward . foo://1.1.1.1", 2, 11, "unknown protocol 'foo://'"),
    ("forward . tls://", 2, 11, "missing address after 'tls://'"),
    ("forward . https://1.1.1.1/dns-query", 2, 11, "has a path"),
    ("forward . 1.1.1.1:", 2, 11, "missing port after ':'"),
    ("forward . 1.1.1.1:0", 2, 11, "port '0'"),
    ("forward . 1.1.1.1:x53", 2, 11, "port 'x53'"),
    ("forward . [::1]", 2, 11, "needs a port"),
    ("forward . not!valid", 2, 11, "is not an IP address, a hostname or a file"),
    ("forward . tls://1.1.1.1%", 2, 11, "missing TLS server name"),
    ("forward . tls://dns.google%x", 2, 11, "a hostname upstream uses its own name"),
    ("forward . " + " ".join(f"10.0.0.{i}" for i in range(1, 17)), 2, 152, "more than 15 TOs"),
    (
        "forward . 8.8.8.8 {\npolcy random\n}",
        3,
        1,
        "unknown property 'polcy' - did you mean 'policy'?",
    ),
    ("forward . 8.8.8.8 {\npolicy least_conn\n}", 3, 8, "unknown policy 'least_conn'"),
    ("forward . 8.8.8.8 {\npolicy\n}", 3, 1, "missing policy after 'policy'"),
    ("forward . 8.8.8.8 {\nexcept\n}", 3, 1, "missing domain to exclude after 'except'"),
    ("forward . 8.8.8.8 {\nforce_tcp yes\n}", 3, 11, "'force_tcp' takes no arguments"),
    ("forward . 8.8.8.8 {\nmax_fails -1\n}", 3, 11, "out of range"),
    ("forward . 8.8.8.8 {\nmax_fails two\n}", 3, 11, "is not a whole number"),
    ("forward . 8.8.8.8 {\nmax_concurrent -5\n}", 3, 16, "max_concurrent can't be negative"),
    ("forward . 8.8.8.8 {\nmax_idle_conns -1\n}", 3, 16, "max_idle_conns can't be negative"),
    ("forward . 8.8.8.8 {\nexpire -1s\n}", 3, 8, "expire can't be negative"),
    ("forward . 8.8.8.8 {\nexpire 10\n}", 3, 8, "a unit is required"),
    ("forward . 8.8.8.8 {\nhealth_check -1s\n}", 3, 14, "health_check can't be negative"),
    ("forward . 8.8.8.8 {\nhealth_check 1s rec\n}", 3, 17, "health_check: unknown option 'rec'"),
    ("forward . 8.8.8.8 {\nhealth_check 1s domain\n}", 3, 17, "missing domain name after 'domain'"),
    ("forward . 8.8.8.8 {\nhealth_check 1s domain a..b\n}", 3, 24, "not a valid domain name"),
    ("forward . 8.8.8.8 {\ntls a b c d\n}", 3, 11, "at most 3 arguments"),
    ("forward . 8.8.8.8 {\ntls_servername\n}", 3, 1, "missing NAME after 'tls_servername'"),
    ("forward . 8.8.8.8 {\nnext\n}", 3, 1, "missing RCODE after 'next'"),
    ("forward . 8.8.8.8 {\nnext NXDOMAINX\n}", 3, 6, "invalid rcode 'NXDOMAINX'"),
    ("forward . 8.8.8.8 {\nfailover NOERROR\n}", 3, 10, "NOERROR cannot be used in failover"),
    ("forward . 8.8.8.8 {\nnext_on_nodata 1\n}", 3, 16, "takes no arguments"),
    ("forward . 8.8.8.8 {\nresolver dns.google\n}", 3, 10, "not a valid resolver IP address"),
    ("forward . 8.8.8.8 {\nresolver\n}", 3, 1, "missing resolver address after 'resolver'"),
    ("forward . 8.8.8.8 {\nread_timeout 0s\n}", 3, 14, "read_timeout must be more than 0"),
    ("forward . 8.8.8.8 {\ndoh_method PUT\n}", 3, 12, "unknown doh_method 'PUT'"),
    ("forward . 8.8.8.8 {\nsource_address eth0\n}", 3, 16, "not a valid source address"),
    (
        "forward . tls://1.1.1.1%one.example {\ntls_servername two.example\n}",
        2,
        11,
        "both forward ('two.example') and upstream ('one.example') TLS server names",
    ),
    ("forward . 8.8.8.8 {\nforce_tcp {\n}\n}", 3, 11, "'force_tcp' takes no block"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert message in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert error.plugin == "forward"


WARNINGS = [
    ("forward 10.0.0.0/15 8.8.8.8", 2, 9, "only '0.10.in-addr.arpa.' is used"),
    ("forward . resolv.conf", 2, 11, "'resolv.conf' is read as a hostname"),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), WARNINGS)
def test_warnings(text: str, line: int, column: int, message: str) -> None:
    found = [w for w in warnings(text) if message in w.message]
    assert len(found) == 1
    assert (found[0].pos.line, found[0].pos.column) == (line, column)


def test_a_plain_stanza_has_no_warning_of_its_own() -> None:
    assert not [
        w for w in warnings("forward . 8.8.8.8 /etc/resolv.conf") if "serve" not in w.message
    ]
