"""Table tests for the template directive's syntax."""

from __future__ import annotations

import re

import pytest

from kdns.corefile.syntax import Fallthrough
from kdns.plugins.template import SPEC, ExtendedError, TemplateConfig, Variable
from kdns.plugins.testing import parse_all, parse_error, parse_one, warnings

ANSWER = "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
REGEX = r"^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$"

VALID = [
    ("template ANY ANY", TemplateConfig("ANY", "ANY", ("example.org.",))),
    (
        "template ANY ANY {\nrcode NXDOMAIN\n}",
        TemplateConfig(
            qclass="ANY",
            qtype="ANY",
            zones=("example.org.",),
            match=(re.compile(".*"),),
            answer=(),
            additional=(),
            authority=(),
            rcode=3,
            ederror=None,
            variables=(),
            expressions=(),
            fallthrough=None,
        ),
    ),
    (
        "template IN A example Other.ORG. {\nmatch " + REGEX + '\nanswer "' + ANSWER + '"\n}',
        TemplateConfig(
            "IN", "A", ("example.", "other.org."), match=(re.compile(REGEX),), answer=(ANSWER,)
        ),
    ),
    (
        "template CH TXT {\nmatch ^a ^b\nmatch ^c\n}",
        TemplateConfig(
            "CH",
            "TXT",
            ("example.org.",),
            match=(re.compile("^a"), re.compile("^b"), re.compile("^c")),
        ),
    ),
    (
        'template IN MX {\nanswer "a" "b"\nadditional "c"\nauthority "d"\nauthority "e"\n}',
        TemplateConfig(
            "IN",
            "MX",
            ("example.org.",),
            answer=("a", "b"),
            additional=("c",),
            authority=("d", "e"),
        ),
    ),
    (
        "template IN PTR 10.0.0.0/8",
        TemplateConfig("IN", "PTR", ("10.in-addr.arpa.",)),
    ),
    ("template IN A {\nrcode SERVFAIL\n}", TemplateConfig("IN", "A", ("example.org.",), rcode=2)),
    ("template IN A {\nrcode BADCOOKIE\n}", TemplateConfig("IN", "A", ("example.org.",), rcode=23)),
    (
        "template IN A {\nfallthrough\n}",
        TemplateConfig("IN", "A", ("example.org.",), fallthrough=Fallthrough((".",))),
    ),
    (
        "template IN A {\nfallthrough in-addr.arpa ip6.arpa\n}",
        TemplateConfig(
            "IN", "A", ("example.org.",), fallthrough=Fallthrough(("in-addr.arpa.", "ip6.arpa."))
        ),
    ),
    (
        "template IN A {\nederror 15\n}",
        TemplateConfig("IN", "A", ("example.org.",), ederror=ExtendedError(15, "")),
    ),
    (
        'template IN A {\nederror 15 "Blocked by policy"\n}',
        TemplateConfig(
            "IN", "A", ("example.org.",), ederror=ExtendedError(15, "Blocked by policy")
        ),
    ),
    (
        "template IN A {\nvar ip_ok len(.Name) > 3\nexpr ip_ok && true\n}",
        TemplateConfig(
            "IN",
            "A",
            ("example.org.",),
            variables=(Variable("ip_ok", "len(.Name) > 3"),),
            expressions=("ip_ok && true",),
        ),
    ),
    # The legacy upstream is accepted and ignored.
    ("template IN A {\nupstream 8.8.8.8\n}", TemplateConfig("IN", "A", ("example.org.",))),
]

INVALID = [
    ("template", 2, 1, "missing CLASS after 'template'"),
    ("template IN", 2, 10, "missing TYPE after 'IN'"),
    ("template in A", 2, 10, "invalid query class 'in' - write it in upper case: 'IN'"),
    ("template XX A", 2, 10, "invalid query class 'XX' - expected one of IN, CS, CH, HS"),
    ("template IN aaaa", 2, 13, "invalid query type 'aaaa' - write it in upper case: 'AAAA'"),
    ("template IN FOO", 2, 13, "invalid query type 'FOO' - expected a record type"),
    ("template IN A a..b", 2, 15, "zone 'a..b' is not a valid domain name"),
    ("template IN A {\nmatch\n}", 3, 1, "missing REGEX after 'match'"),
    ("template IN A {\nmatch (abc\n}", 3, 7, "invalid regular expression '(abc'"),
    ("template IN A {\nanswer\n}", 3, 1, "missing RR template after 'answer'"),
    ("template IN A {\nadditional\n}", 3, 1, "missing RR template after 'additional'"),
    ("template IN A {\nauthority\n}", 3, 1, "missing RR template after 'authority'"),
    ('template IN A {\nanswer "{{ .Name"\n}', 3, 8, "unclosed action"),
    ("template IN A {\nrcode\n}", 3, 1, "missing CODE after 'rcode'"),
    ("template IN A {\nrcode nxdomain\n}", 3, 7, "write it in upper case: 'NXDOMAIN'"),
    ("template IN A {\nrcode BOGUS\n}", 3, 7, "invalid rcode 'BOGUS' - expected a response code"),
    ("template IN A {\nrcode NXDOMAIN SERVFAIL\n}", 3, 16, "unexpected argument 'SERVFAIL'"),
    ("template IN A {\nederror\n}", 3, 1, "missing CODE after 'ederror'"),
    ("template IN A {\nederror 70000\n}", 3, 9, "out of range: it must be between 0 and 65535"),
    ("template IN A {\nederror x\n}", 3, 9, "is not a whole number"),
    ("template IN A {\nederror 1 a b\n}", 3, 13, "unexpected argument 'b' to 'ederror'"),
    ("template IN A {\nvar x\n}", 3, 5, "missing EXPRESSION after 'x'"),
    ("template IN A {\nvar 1x 2\n}", 3, 5, "invalid variable name '1x'"),
    ("template IN A {\nvar true 2\n}", 3, 5, "variable name 'true' is reserved"),
    ("template IN A {\nexpr\n}", 3, 1, "missing EXPRESSION after 'expr'"),
    ("template IN A {\nanwser x\n}", 3, 1, "unknown property 'anwser' - did you mean 'answer'?"),
    ("template IN A {\nfallthrough a..b\n}", 3, 13, "zone 'a..b' is not a valid"),
    ("template IN A {\nmatch a {\n}\n}", 3, 9, "'match' takes no block"),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid(text: str, expected: TemplateConfig) -> None:
    assert parse_one(text) == expected


@pytest.mark.parametrize(("text", "line", "column", "message"), INVALID)
def test_invalid(text: str, line: int, column: int, message: str) -> None:
    error = parse_error(text)
    assert (error.pos.line, error.pos.column) == (line, column)
    assert message in error.message
    assert error.plugin == "template"


def test_upstream_warns() -> None:
    found = [w for w in warnings("template IN A {\nupstream\n}") if "upstream" in w.message]
    assert [(w.pos.line, w.pos.column) for w in found] == [(3, 1)]


def test_templates_repeat_in_order() -> None:
    assert not SPEC.once
    configs = parse_all("template IN A {\nrcode REFUSED\n}\ntemplate IN AAAA")
    assert [(c.qtype, c.rcode) for c in configs if isinstance(c, TemplateConfig)] == [
        ("A", 5),
        ("AAAA", 0),
    ]
