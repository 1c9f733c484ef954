"""template handler: matching, sections, rcodes, fallthrough, EDE, CNAME following, metrics."""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN, SERVFAIL, PluginError
from kdns.plugins.template import Templates
from kdns.plugins.template.metrics import MATCHES, RR_FAILURES, TEMPLATE_FAILURES
from kdns.plugins.testing import StubHandler, build, make_request, parse_error, run

CONFIG = r"""
template IN A example {
    match ^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-(?P<c>[0-9]+)-(?P<d>[0-9]+)[.]example[.]$
    answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
    fallthrough
}
template IN A example {
    match ^hex-([0-9a-f]{2})([0-9a-f]{2})[.]example[.]$
    answer "{{ .Name }} 60 IN A 10.0.{{ parseInt (index .Match 1) 16 8 }}.{{ parseInt (index .Match 2) 16 8 }}"
    fallthrough
}
template IN MX example {
    match ^ip-(?P<a>[0-9]+)-.*[.]example[.]$
    answer "{{ .Name }} 60 IN MX 10 mail.{{ .Zone }}"
    authority "{{ .Zone }} 60 IN NS ns.{{ .Zone }}"
    additional "mail.{{ .Zone }} 60 IN A 192.0.2.{{ .Group.a }}"
    fallthrough
}
template ANY ANY invalid.example {
    rcode NXDOMAIN
    authority "invalid.example. 60 {{ .Class }} SOA ns.invalid.example. hostmaster.invalid.example. (1 60 60 60 60)"
}
template IN TXT order.example {
    match ^(x)[.] ^(x)(y)?
    answer "{{ .Name }} 1 IN TXT {{ len .Match }}"
}
template IN TXT example {
    match ^(?P<word>[a-z]+)[.]txt[.]example[.]$
    answer "{{ .Name }} 30 IN TXT {{ .Group.word }}/{{ index .Group `word` }}/{{ .Zone }}/{{ .Class }}/{{ .Type }}/{{ .Remote }}/{{ .Meta `test/key` }}/{{ .Group.none }}"
}
template IN ANY broken.example {
    rcode SERVFAIL
}
"""  # noqa: E501


def rows(section: list[dnslib.RR]) -> list[tuple[str, str, int, str]]:
    """Return records as (owner, type, ttl, data) tuples."""
    return [(str(rr.rname), dnslib.QTYPE[rr.rtype], rr.ttl, str(rr.rdata)) for rr in section]


ANSWERED = [
    # (name, type, rcode, answer, authority, additional)
    ("ip-10-1-2-3.example", "A", NOERROR, [("ip-10-1-2-3.example.", "A", 60, "10.1.2.3")], [], []),
    # the owner is .Name: the query name in lower case
    ("IP-10-1-2-4.Example", "A", NOERROR, [("ip-10-1-2-4.example.", "A", 60, "10.1.2.4")], [], []),
    # templates are tried in order: hex names fall through the first to the second
    ("hex-0a1f.example", "A", NOERROR, [("hex-0a1f.example.", "A", 60, "10.0.10.31")], [], []),
    # the first regex of a template that matches wins: it has one group, so .Match has two
    ("x.order.example", "TXT", NOERROR, [("x.order.example.", "TXT", 1, '"2"')], [], []),
    ("xy.order.example", "TXT", NOERROR, [("xy.order.example.", "TXT", 1, '"3"')], [], []),
    (
        "ip-7-1-2-3.example",
        "MX",
        NOERROR,
        [("ip-7-1-2-3.example.", "MX", 60, "10 mail.example.")],
        [("example.", "NS", 60, "ns.example.")],
        [("mail.example.", "A", 60, "192.0.2.7")],
    ),
    # ANY ANY: any class and type; the SOA's class is the query's
    (
        "x.invalid.example",
        "AAAA",
        NXDOMAIN,
        [],
        [
            (
                "invalid.example.",
                "SOA",
                60,
                "ns.invalid.example. hostmaster.invalid.example. 1 60 60 60 60",
            )
        ],
        [],
    ),
    # a query for type ANY is matched by an A template, and .Type is the template's
    (
        "ip-10-9-9-9.example",
        "ANY",
        NOERROR,
        [("ip-10-9-9-9.example.", "A", 60, "10.9.9.9")],
        [],
        [],
    ),
    (
        "hello.txt.example",
        "TXT",
        NOERROR,
        [
            (
                "hello.txt.example.",
                "TXT",
                30,
                '"hello/hello/example./IN/TXT/10.240.0.1/meta-value/<no","value>"',
            )
        ],
        [],
        [],
    ),
]


@pytest.mark.parametrize(("name", "qtype", "rcode", "answer", "authority", "additional"), ANSWERED)
async def test_answers(
    name: str,
    qtype: str,
    rcode: int,
    answer: list[tuple[str, str, int, str]],
    authority: list[tuple[str, str, int, str]],
    additional: list[tuple[str, str, int, str]],
) -> None:
    stub = StubHandler()
    handler = build(CONFIG, stub, keys="example")
    req = make_request(name, qtype)
    req.meta["test/key"] = "meta-value"
    code, w = await run(handler, req)
    reply = w.reply
    assert (code, reply.header.rcode) == (rcode, rcode)
    assert reply.header.aa == 1
    assert str(reply.q.qname) == name + "."  # the question as asked
    assert rows(reply.rr) == answer
    assert rows(reply.auth) == authority
    assert rows(reply.ar) == additional
    assert req.answered_by == "template"
    assert stub.calls == []


PASSED = [
    ("www.example", "A"),  # no regex matches, and fallthrough is on
    ("ip-10-1-2-3.example", "AAAA"),  # no template for AAAA
    ("ip-10-1-2-3.example", "A", "CH"),  # class mismatch
    ("ip-10-1-2-3.other", "A"),  # outside the templates' zones
]


@pytest.mark.parametrize("query", PASSED)
async def test_passes_on(query: tuple[str, ...]) -> None:
    stub = StubHandler(answers=("stub. 5 IN A 192.0.2.1",))
    handler = build(CONFIG, stub, keys="example")
    req = make_request(query[0], query[1], qclass=query[2] if len(query) > 2 else "IN")
    code, w = await run(handler, req)
    assert code == NOERROR
    assert len(stub.calls) == 1
    assert rows(w.reply.rr) == [("stub.", "A", 5, "192.0.2.1")]


async def test_no_match_without_fallthrough_is_servfail() -> None:
    stub = StubHandler()
    handler = build(CONFIG, stub, keys="example")
    code, w = await run(handler, make_request("1.txt.example", "TXT"))
    assert (code, w.replies, stub.calls) == (SERVFAIL, [], [])


async def test_rcode_servfail_is_not_written() -> None:
    handler = build(CONFIG, StubHandler(), keys="example")
    code, w = await run(handler, make_request("broken.example"))
    assert (code, w.replies) == (SERVFAIL, [])


EDE_CONFIG = """
template ANY ANY blocked.example {
    rcode REFUSED
    ederror 15 "Blocked by policy"
}
"""


async def test_extended_error_with_edns() -> None:
    handler = build(EDE_CONFIG, StubHandler(), keys="example")
    code, w = await run(handler, make_request("ads.blocked.example", bufsize=1232, do=True))
    reply = w.reply
    assert code == reply.header.rcode == 5
    opts = [rr for rr in reply.ar if rr.rtype == dnslib.QTYPE.OPT]
    assert len(opts) == 1
    assert opts[0].ttl & 0x8000  # DO echoed
    assert [(o.code, o.data) for o in opts[0].rdata] == [(15, b"\x00\x0fBlocked by policy")]


async def test_extended_error_without_edns() -> None:
    handler = build(EDE_CONFIG, StubHandler(), keys="example")
    _, w = await run(handler, make_request("ads.blocked.example"))
    assert w.reply.header.rcode == 5
    assert w.reply.ar == []


async def test_cname_is_followed() -> None:
    text = 'template IN A example {\nanswer "{{ .Name }} 60 IN CNAME target.example.net."\n}'
    handler = build(text, StubHandler(), keys="example")
    assert isinstance(handler, Templates)
    asked: list[tuple[str, int]] = []

    async def resolve(name: str, qtype: int) -> dnslib.DNSRecord:
        asked.append((name, qtype))
        reply = dnslib.DNSRecord.question(name).reply()
        reply.add_answer(*dnslib.RR.fromZone(f"{name} 30 IN A 192.0.2.9"))
        return reply

    handler.resolve = resolve
    _, w = await run(handler, make_request("www.example"))
    assert asked == [("target.example.net.", 1)]
    assert rows(w.reply.rr) == [
        ("www.example.", "CNAME", 60, "target.example.net."),
        ("target.example.net.", "A", 30, "192.0.2.9"),
    ]


async def test_metrics() -> None:
    handler = build(CONFIG, StubHandler(), keys="example")
    labels = ("dns://:53", "example.", "", "IN", "MX")
    before = MATCHES.get(labels)
    await run(handler, make_request("ip-1-2-3-4.example", "MX"))
    await run(handler, make_request("www.example", "MX"))  # no match: not counted
    assert MATCHES.get(labels) == before + 1


async def test_failures_are_counted_and_reported() -> None:
    text = (
        'template IN A example {\nanswer "{{ index .Match 3 }}"\n}\n'
        'template IN AAAA example {\nanswer "{{ .Name }} 60 IN AAAA 10.0.0.1"\n}'
    )
    handler = build(text, StubHandler(), keys="example")
    exec_labels = ("dns://:53", "example.", "", "IN", "A", "answer", "{{ index .Match 3 }}")
    rr_labels = ("dns://:53", "example.", "", "IN", "AAAA", "answer",
                 "{{ .Name }} 60 IN AAAA 10.0.0.1")  # fmt: skip
    before = TEMPLATE_FAILURES.get(exec_labels), RR_FAILURES.get(rr_labels)
    with pytest.raises(PluginError, match="index out of range"):
        await run(handler, make_request("a.example"))
    with pytest.raises(PluginError, match="bad RR"):
        await run(handler, make_request("a.example", "AAAA"))
    after = TEMPLATE_FAILURES.get(exec_labels), RR_FAILURES.get(rr_labels)
    assert after == (before[0] + 1, before[1] + 1)


def test_expr_is_refused_at_build() -> None:
    with pytest.raises(PluginError, match="expr language"):
        build("template IN A {\nexpr true\n}", StubHandler())


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ if .Name }}x{{ end }}", "'{{ if }}' actions are not supported"),
        ("{{ $x }}", "template variables ($x) are not supported"),
        ("{{ .Nmae }}", "can't evaluate field Nmae"),
        ("{{ lower .Name }}", 'function "lower" not defined'),
        ("{{ .Name 1 }}", "can't give argument to non-function"),
    ],
)
def test_unsupported_templates_fail_check(template: str, message: str) -> None:
    error = parse_error(f'template IN A {{\nanswer "{template} 60 IN A 1.2.3.4"\n}}')
    assert (error.pos.line, error.pos.column) == (3, 8)
    assert message in error.message


async def test_question_and_message_fields() -> None:
    text = (
        "template IN TXT example {\n"
        'answer "{{ .Name }} 5 IN TXT {{ .Question.Name }} {{ .Question.Qtype }} '
        '{{ .Message.Id }} {{ printf `%s-%03d` .Type 7 }} {{ .Regex }}"\n}'
    )
    req = make_request("Mixed.Example", "TXT")
    _, w = await run(build(text, StubHandler(), keys="example"), req)
    assert rows(w.reply.rr) == [
        ("mixed.example.", "TXT", 5, f'"Mixed.Example.","16","{req.id}","TXT-007",".*"')
    ]
