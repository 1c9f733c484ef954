"""view handler: which queries a view admits, expression by expression, and what it publishes."""

from __future__ import annotations

import pytest

from kdns.plugins.base import MetadataProvider, Request, RequestFilter
from kdns.plugins.testing import StubHandler, build, make_request, run
from kdns.plugins.view import View


def view(*expressions: str) -> View:
    body = "".join(f"  expr {e}\n" for e in expressions)
    handler = build(f"view test {{\n{body}}}", StubHandler(), keys=".")
    assert isinstance(handler, View)
    return handler


def req(
    name: str = "www.example.org",
    qtype: str = "A",
    remote: tuple[str, int] = ("10.240.0.1", 40212),
    **kw: object,
) -> Request:
    return make_request(name, qtype, remote=remote, **kw)  # type: ignore[arg-type]


V6 = ("fd00::7", 5353)

CASES = [
    # client address
    ("incidr(client_ip(), '10.0.0.0/8')", req(), True),
    ("incidr(client_ip(), '10.0.0.0/8')", req(remote=("192.168.1.1", 1)), False),
    ("incidr(client_ip(), 'fd00::/8')", req(remote=V6), True),  # brackets are stripped
    ("incidr(client_ip(), '10.0.0.0/8')", req(remote=V6), False),
    ("client_ip() == '10.240.0.1'", req(), True),
    ("client_ip() == '[fd00::7]'", req(remote=V6), True),
    ("port() == '40212'", req(), True),
    ("server_ip() == '127.0.0.1' && server_port() == '53'", req(), True),
    # the question
    ("name() == 'www.example.org.'", req("WWW.Example.ORG"), True),  # lower-cased
    ("name() matches '^www\\\\.example\\\\.org\\\\.$'", req(), True),
    ("name() matches '^abc\\\\..*\\\\.example\\\\.com\\\\.$'", req("abc.x.y.example.com"), True),
    ("name() matches '^abc\\\\..*\\\\.example\\\\.com\\\\.$'", req("abc.example.com"), False),
    ("name() contains 'example'", req(), True),
    ("name() startsWith 'www.' and name() endsWith '.org.'", req(), True),
    ("type() == 'AAAA'", req(), False),
    ("type() in ['A', 'AAAA']", req(qtype="AAAA"), True),
    ("type() not in ['A', 'AAAA']", req(qtype="MX"), True),
    ("type() not in ['A', 'AAAA']", req(), False),
    ("class() == 'CH'", req(qclass="CH"), True),
    ("proto() == 'tcp'", req(proto="tcp"), True),
    ("proto() == 'tcp'", req(), False),
    ("size() > 20 && size() < 100", req(), True),
    ("bufsize() == 512", req(), True),
    ("bufsize() >= 1232", req(bufsize=1232), True),
    ("do()", req(do=True), True),
    ("do()", req(), False),
    ("opcode() == 0 && id() >= 0", req(), True),
    # logic, precedence, parentheses, ternary
    ("!(type() == 'A')", req(), False),
    ("not (type() == 'MX')", req(), True),
    ("type() == 'MX' || type() == 'A'", req(), True),
    ("type() == 'MX' || type() == 'A' && proto() == 'tcp'", req(), False),  # && binds tighter
    ("(type() == 'MX' || type() == 'A') && proto() == 'udp'", req(), True),
    ("proto() == 'tcp' ? size() > 1000 : true", req(), True),
    ("size() + 1 > size() && 'a' + 'b' == 'ab'", req(), True),
    ('"type() == \\"A\\""', req(), True),  # Corefile-quoted, with expr double quotes inside
    ("`raw\\d` == 'raw\\\\d'", req(), True),
    # metadata: empty when nobody published the label
    ("metadata('view/name') == ''", req(), True),
    # an error at query time means "no", even under '!'
    ("!incidr(metadata('kdns/ip'), '10.0.0.0/8')", req(), False),
    ("name() matches metadata('kdns/re')", req(), True),  # '' matches everything
]


@pytest.mark.parametrize(("expression", "request_", "admitted"), CASES)
def test_expression(expression: str, request_: Request, admitted: bool) -> None:
    """Each expression evaluates over the query as CoreDNS's view functions describe it."""
    assert view(expression).admits(request_) is admitted


def test_metadata_is_read_from_the_request() -> None:
    r = req()
    r.meta["view/name"] = "inside"
    r.meta["kdns/ip"] = "10.1.1.1"
    assert view("metadata('view/name') == 'inside'").admits(r)
    assert view("incidr(metadata('kdns/ip'), '10.0.0.0/8')").admits(r)


def test_every_expression_must_hold() -> None:
    handler = view("type() == 'A'", "proto() == 'udp'")
    assert handler.admits(req())
    assert not handler.admits(req(proto="tcp"))
    assert not handler.admits(req(qtype="MX"))


def test_no_expression_admits_all() -> None:
    assert view().admits(req(qtype="TXT", proto="tcp"))


def test_capabilities() -> None:
    """The runtime finds a view by RequestFilter; metadata finds it by MetadataProvider."""
    handler = view("type() == 'A'")
    assert isinstance(handler, RequestFilter)
    assert isinstance(handler, MetadataProvider)
    assert handler.view_name() == "test"
    assert handler.metadata(req()) == {"view/name": "test"}


async def test_serve_passes_on() -> None:
    """In the chain, view only passes the query on: filtering happened when the block was picked."""
    stub = StubHandler(answers=("www.example.org. 5 IN A 10.0.0.1",))
    handler = build("view v {\n  expr type() == 'MX'\n}", stub, keys=".")
    rcode, w = await run(handler, req())
    assert rcode == 0
    assert [str(rr.rdata) for rr in w.reply.rr] == ["10.0.0.1"]
    assert len(stub.calls) == 1
