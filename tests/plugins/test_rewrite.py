"""Table tests for the rewrite directive's syntax: every field, the block form, the modes."""

from __future__ import annotations

import re

import pytest

from kdns.plugins.rewrite import (
    SPEC,
    AnswerRule,
    ClassRule,
    CnameRule,
    EdnsLocalRule,
    EdnsNsidRule,
    EdnsSubnetRule,
    NameMatch,
    NameRule,
    RcodeRule,
    RewriteConfig,
    TtlRule,
    TypeRule,
)
from kdns.plugins.testing import parse_all, parse_error, parse_one


def exact(name: str) -> NameMatch:
    return NameMatch("exact", name)


def rx(pattern: str) -> NameMatch:
    return NameMatch("regex", pattern, re.compile(pattern))


VALID = [
    # name: two arguments mean exact, which always rewrites the answer back.
    (
        "rewrite name example.net Example.ORG",
        RewriteConfig(NameRule(exact("example.net."), "example.org.", auto=True), "stop"),
    ),
    (
        "rewrite continue name exact a.example. b.example.",
        RewriteConfig(NameRule(exact("a.example."), "b.example.", auto=True), "continue"),
    ),
    (
        "rewrite STOP name prefix foo bar",
        RewriteConfig(NameRule(NameMatch("prefix", "foo."), "bar.")),
    ),
    (
        "rewrite name suffix .schmoogle.com. .google.com.",
        RewriteConfig(NameRule(NameMatch("suffix", ".schmoogle.com."), ".google.com.")),
    ),
    (
        "rewrite name substring service.us-west-1.example.org service.us-west-1.consul",
        RewriteConfig(
            NameRule(
                NameMatch("substring", "service.us-west-1.example.org."),
                "service.us-west-1.consul.",
            )
        ),
    ),
    (
        r"rewrite name regex (.*)-(us-west-1)\.example\.org {1}.service.{2}.consul",
        RewriteConfig(NameRule(rx(r"(.*)-(us-west-1)\.example\.org"), "{1}.service.{2}.consul.")),
    ),
    (
        "rewrite name suffix .coredns.rocks .service.consul answer auto",
        RewriteConfig(
            NameRule(NameMatch("suffix", ".coredns.rocks."), ".service.consul.", auto=True)
        ),
    ),
    (
        r"rewrite name regex (.*)\.a\.example {1}.b.example answer name (.*)\.b\.example "
        r"{1}.a.example answer value (.*)\.b\.example {1}.a.example",
        RewriteConfig(
            NameRule(
                rx(r"(.*)\.a\.example"),
                "{1}.b.example.",
                answers=(
                    AnswerRule("name", re.compile(r"(.*)\.b\.example"), "{1}.a.example."),
                    AnswerRule("value", re.compile(r"(.*)\.b\.example"), "{1}.a.example."),
                ),
            )
        ),
    ),
    # After the first option, `answer` may be left out.
    (
        "rewrite name substring a b answer auto value x y",
        RewriteConfig(
            NameRule(
                NameMatch("substring", "a."),
                "b.",
                auto=True,
                answers=(AnswerRule("value", re.compile("x"), "y."),),
            )
        ),
    ),
    # The block form: its words follow the line's, whatever the lines.
    (
        "rewrite stop {\n"
        r"name regex (.*)-(us-west-1)\.coredns\.rocks {1}.service.{2}.consul" + "\n"
        r"answer name (.*)\.service\.(us-west-1)\.consul {1}-{2}.coredns.rocks" + "\n}",
        RewriteConfig(
            NameRule(
                rx(r"(.*)-(us-west-1)\.coredns\.rocks"),
                "{1}.service.{2}.consul.",
                answers=(
                    AnswerRule(
                        "name",
                        re.compile(r"(.*)\.service\.(us-west-1)\.consul"),
                        "{1}-{2}.coredns.rocks.",
                    ),
                ),
            ),
            "stop",
        ),
    ),
    (
        "rewrite continue {\nttl regex (.*)\\.coredns\\.rocks 15\n}",
        RewriteConfig(TtlRule(rx(r"(.*)\.coredns\.rocks"), 15, 15), "continue"),
    ),
    ("rewrite {\nname a b\n}", RewriteConfig(NameRule(exact("a."), "b.", auto=True))),
    ("rewrite name {\na b\n}", RewriteConfig(NameRule(exact("a."), "b.", auto=True))),
    # type and class.
    ("rewrite type ANY HINFO", RewriteConfig(TypeRule("ANY", "HINFO"))),
    ("rewrite type aaaa a", RewriteConfig(TypeRule("AAAA", "A"))),
    ("rewrite class CH IN", RewriteConfig(ClassRule("CH", "IN"))),
    ("rewrite class hs any", RewriteConfig(ClassRule("HS", "ANY"))),
    # edns0.
    (
        "rewrite edns0 local set 0xffee 0x61626364",
        RewriteConfig(EdnsLocalRule("set", 0xFFEE, b"abcd")),
    ),
    (
        "rewrite edns0 local append 65518 abcd",
        RewriteConfig(EdnsLocalRule("append", 65518, b"abcd")),
    ),
    (
        "rewrite edns0 local replace 0xffee {client_ip}",
        RewriteConfig(EdnsLocalRule("replace", 0xFFEE, variable="{client_ip}")),
    ),
    (
        "rewrite edns0 local set 0xffee {some-plugin/some-label}",
        RewriteConfig(EdnsLocalRule("set", 0xFFEE, variable="{some-plugin/some-label}")),
    ),
    (
        "rewrite edns0 local SET 0xffee abcd revert",
        RewriteConfig(EdnsLocalRule("set", 0xFFEE, b"abcd", revert=True)),
    ),
    ("rewrite edns0 local unset 0xffee", RewriteConfig(EdnsLocalRule("unset", 0xFFEE))),
    ("rewrite edns0 local unset 010", RewriteConfig(EdnsLocalRule("unset", 8))),
    ("rewrite edns0 nsid set", RewriteConfig(EdnsNsidRule("set"))),
    ("rewrite edns0 NSID unset revert", RewriteConfig(EdnsNsidRule("unset", revert=True))),
    ("rewrite edns0 subnet set 24 56", RewriteConfig(EdnsSubnetRule("set", 24, 56))),
    (
        "rewrite edns0 subnet append 32 128 revert",
        RewriteConfig(EdnsSubnetRule("append", 32, 128, True)),
    ),
    ("rewrite edns0 subnet unset", RewriteConfig(EdnsSubnetRule("unset"))),
    # ttl.
    ("rewrite ttl example.com. 30", RewriteConfig(TtlRule(exact("example.com."), 30, 30))),
    ("rewrite ttl example.com 30-300", RewriteConfig(TtlRule(exact("example.com."), 30, 300))),
    ("rewrite ttl example.com. -30", RewriteConfig(TtlRule(exact("example.com."), 0, 30))),
    ("rewrite ttl example.com. 30-", RewriteConfig(TtlRule(exact("example.com."), 30, 2147483647))),
    (
        "rewrite ttl suffix .Example.com 0",
        RewriteConfig(TtlRule(NameMatch("suffix", ".example.com."), 0, 0)),
    ),
    # cname: names are lower-cased but not made fully qualified.
    (
        "rewrite cname A.example B.example",
        RewriteConfig(CnameRule(NameMatch("exact", "a.example"), "b.example")),
    ),
    (
        "rewrite cname suffix .elb.amazonaws.com .example",
        RewriteConfig(CnameRule(NameMatch("suffix", ".elb.amazonaws.com"), ".example")),
    ),
    (
        r"rewrite cname regex (.*)\.x\.example {1}.y.example",
        RewriteConfig(CnameRule(rx(r"(.*)\.x\.example"), "{1}.y.example")),
    ),
    # rcode: by number or by name, any case.
    ("rewrite rcode example.com 2 0", RewriteConfig(RcodeRule(exact("example.com."), 2, 0))),
    (
        "rewrite continue rcode regex (.*)\\.coredns\\.rocks SERVFAIL NoError",
        RewriteConfig(RcodeRule(rx(r"(.*)\.coredns\.rocks"), 2, 0), "continue"),
    ),
    (
        "rewrite rcode prefix coredns.rocks NotAuth 23",
        RewriteConfig(RcodeRule(NameMatch("prefix", "coredns.rocks."), 9, 23)),
    ),
]

INVALID = [
    ("rewrite", 2, 1, "no rule type specified for rewrite"),
    ("rewrite stop", 2, 9, "missing rule type after 'stop'"),
    ("rewrite continue {\n}", 2, 9, "missing rule type after 'continue'"),
    ("rewrite answer name a b", 2, 9, "response rewrites must begin with a name rule"),
    ("rewrite nmae a b", 2, 9, "invalid rule type 'nmae' - did you mean 'name'?"),
    ("rewrite foo a b", 2, 9, "invalid rule type 'foo' - expected one of name, type"),
    ("rewrite name a b {\nc\n}", 2, 18, "a block is only read when the line has fewer than two"),
    ("rewrite {\nname a b {\n}\n}", 3, 10, "cannot hold a block"),
    # name
    ("rewrite name a", 2, 14, "too few arguments for a name rule"),
    ("rewrite name foo a b", 2, 14, "unknown name match type 'foo'"),
    ("rewrite name regex (.* a", 2, 20, "invalid regular expression '(.*'"),
    ("rewrite name regex (.*) {1}.{2}", 2, 20, "uses more groups (2) than the regular expression"),
    ("rewrite name exact a b foo", 2, 24, "unexpected argument 'foo': options after FROM TO"),
    ("rewrite name exact a b answer", 2, 24, "missing answer type after 'answer'"),
    ("rewrite name exact a b answer bogus", 2, 31, "invalid answer type 'bogus'"),
    ("rewrite name regex a b answer name x", 2, 31, "'answer name' needs two arguments"),
    ("rewrite name regex a b answer auto answer", 2, 36, "missing answer type after 'answer'"),
    ("rewrite name regex a b answer value (x y", 2, 37, "invalid regular expression '(x'"),
    ("rewrite name regex a b answer name x {1}", 2, 36, "uses more groups (1)"),
    ("rewrite name regex a b answer auto answer name x y", 2, 24, "cannot be combined"),
    # type and class
    ("rewrite type A", 2, 14, "type rules take exactly two arguments"),
    ("rewrite type A AAAA MX", 2, 21, "type rules take exactly two arguments"),
    ("rewrite type A FOO", 2, 16, "invalid type 'FOO'"),
    ("rewrite class IN", 2, 15, "class rules take exactly two arguments"),
    ("rewrite class IN XX", 2, 18, "invalid class 'XX'"),
    # edns0
    ("rewrite edns0 local", 2, 15, "too few arguments for an EDNS0 rule"),
    ("rewrite edns0 local frob 1 2", 2, 21, "unknown action 'frob'"),
    ("rewrite edns0 bogus set", 2, 15, "invalid EDNS0 rule type 'bogus'"),
    ("rewrite edns0 local set 0xffee", 2, 25, "EDNS0 local rules take two arguments"),
    ("rewrite edns0 local set 1 2 3", 2, 29, "EDNS0 local rules take two arguments"),
    ("rewrite edns0 local unset", 2, 21, "EDNS0 local unset rules take one argument"),
    ("rewrite edns0 local unset 1 2", 2, 29, "EDNS0 local unset rules take one argument"),
    ("rewrite edns0 local set 0x10000 a", 2, 25, "option code 65536 is out of range"),
    ("rewrite edns0 local set code a", 2, 25, "option code 'code' is not a number"),
    ("rewrite edns0 local set 1 0xabc", 2, 27, "'0xabc' is not valid hexadecimal data"),
    ("rewrite edns0 local set 1 0xzz", 2, 27, "is not valid hexadecimal data"),
    ("rewrite edns0 local set 1 {foo}", 2, 27, "unsupported variable name '{foo}'"),
    ("rewrite edns0 local set 1 {/x}", 2, 27, "unsupported variable name '{/x}'"),
    ("rewrite edns0 nsid set x", 2, 24, "EDNS0 nsid rules take no arguments"),
    ("rewrite edns0 subnet set 24", 2, 26, "EDNS0 subnet rules take two arguments"),
    ("rewrite edns0 subnet unset 24 56", 2, 28, "EDNS0 subnet unset rules take no arguments"),
    ("rewrite edns0 subnet set 33 56", 2, 26, "IPv4 prefix length 33 is out of range"),
    ("rewrite edns0 subnet set 24 129", 2, 29, "IPv6 prefix length 129 is out of range"),
    # ttl
    ("rewrite ttl a", 2, 13, "too few arguments for a ttl rule"),
    ("rewrite ttl exact a 1 2", 2, 23, "too many arguments for a ttl rule"),
    ("rewrite ttl a -", 2, 15, "invalid TTL '-' for a ttl rule"),
    ("rewrite ttl a 30-10", 2, 15, "invalid TTL '30-10'"),
    ("rewrite ttl a 1-2-3", 2, 15, "invalid TTL '1-2-3'"),
    ("rewrite ttl a 4294967296", 2, 15, "invalid TTL '4294967296'"),
    ("rewrite ttl a ten", 2, 15, "invalid TTL 'ten'"),
    ("rewrite ttl bogus a 10", 2, 13, "unknown ttl match type 'bogus'"),
    ("rewrite ttl regex (a 10", 2, 19, "invalid regular expression '(a'"),
    # cname
    ("rewrite cname a", 2, 15, "a cname rule takes two or three arguments, not 1"),
    ("rewrite cname exact a b c", 2, 25, "a cname rule takes two or three arguments, not 4"),
    ("rewrite cname bogus a b", 2, 15, "unknown cname match type 'bogus'"),
    ("rewrite cname regex (a b", 2, 21, "invalid regular expression"),
    # rcode
    ("rewrite rcode a 2", 2, 17, "too few arguments for a rcode rule"),
    ("rewrite rcode exact a 2 0 1", 2, 27, "too many arguments for a rcode rule"),
    ("rewrite rcode a 24 0", 2, 17, "invalid matching RCODE '24'"),
    ("rewrite rcode a 0 nothing", 2, 19, "invalid replacement RCODE 'nothing'"),
    ("rewrite rcode bogus a 2 0", 2, 15, "unknown rcode match type 'bogus'"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: RewriteConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "rewrite"


def test_rules_repeat_in_order() -> None:
    assert not SPEC.once
    configs = parse_all("rewrite continue type ANY HINFO\nrewrite name a b")
    assert configs == (
        RewriteConfig(TypeRule("ANY", "HINFO"), "continue"),
        RewriteConfig(NameRule(exact("a."), "b.", auto=True), "stop"),
    )


def test_regex_length_is_limited() -> None:
    error = parse_error("rewrite name regex " + "a" * 10001 + " b")
    assert "longer than 10000 characters" in error.message
