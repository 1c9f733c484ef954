"""rewrite handler: name, type, class, TTL, rcode, EDNS0 and CNAME rules, stop and continue,
and the reply the client gets back (its own question, names mapped back)."""

from __future__ import annotations

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN, SERVFAIL, PluginError, Request, ResponseWriter
from kdns.plugins.rewrite import Rewrite
from kdns.plugins.testing import RecordingWriter, build, make_request, run

A, AAAA, HINFO, OPT = 1, 28, 13, 41


class Backend:
    """A next plugin that answers for whatever name it is asked, and remembers what it saw."""

    name = "backend"

    def __init__(
        self,
        records: tuple[str, ...] = ("{name} 3600 IN A 192.0.2.1",),
        *,
        rcode: int = NOERROR,
        write: bool = True,
        echo_opt: bool = False,
        error: bool = False,
    ) -> None:
        self.records = records
        self.rcode = rcode
        self.write = write
        self.echo_opt = echo_opt
        self.error = error
        self.seen: list[Request] = []

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        self.seen.append(req)
        if self.error:
            raise PluginError(self.name, "backend broke")
        if not self.write:
            return self.rcode
        reply = req.reply(self.rcode, aa=True)
        for line in self.records:
            for rr in dnslib.RR.fromZone(line.format(name=req.qname)):
                reply.add_answer(rr)
        if self.echo_opt and req.opt is not None:
            reply.add_ar(req.opt)
        req.answered_by = self.name
        w.write(reply)
        return self.rcode


def rows(section: list[dnslib.RR]) -> list[tuple[str, int, str]]:
    return [(str(rr.rname), rr.ttl, str(rr.rdata)) for rr in section if rr.rtype != OPT]


NAMES = [
    # (rules, query, name the backend sees, records, answer the client gets)
    ("rewrite name example.net example.org", "example.net", "example.org.",
     ("{name} 60 IN A 192.0.2.1",), [("example.net.", 60, "192.0.2.1")]),
    # exact rules map the answer back; the question keeps the client's case
    ("rewrite name example.net example.org", "Example.NET", "example.org.",
     ("{name} 60 IN A 192.0.2.1", "sub.{name} 60 IN A 192.0.2.2"),
     [("example.net.", 60, "192.0.2.1"), ("sub.example.net.", 60, "192.0.2.2")]),
    # prefix: FROM and TO are made fully qualified, as CoreDNS does; no answer rewrite
    ("rewrite name prefix foo bar", "foo.example.org", "bar.example.org.",
     ("{name} 60 IN A 192.0.2.1",), [("bar.example.org.", 60, "192.0.2.1")]),
    # suffix with answer auto: owners and values mapped back by the reverse suffix rewrite
    ("rewrite name suffix .a.example .b.example answer auto", "x.a.example", "x.b.example.",
     ("{name} 60 IN CNAME y.b.example.", "y.b.example. 60 IN A 192.0.2.3"),
     [("x.a.example.", 60, "y.a.example."), ("y.a.example.", 60, "192.0.2.3")]),
    ("rewrite name substring us-west-1.example.org us-west-1.consul",
     "ftp.service.us-west-1.example.org", "ftp.service.us-west-1.consul.",
     ("{name} 60 IN A 192.0.2.1",), [("ftp.service.us-west-1.consul.", 60, "192.0.2.1")]),
    # regex with {N} groups, and an answer name rule to map the owner back
    ("rewrite stop {\nname regex (.*)-(us-west-1)\\.example\\.org {1}.service.{2}.consul\n"
     "answer name (.*)\\.service\\.(us-west-1)\\.consul {1}-{2}.example.org\n}",
     "ftp-us-west-1.example.org", "ftp.service.us-west-1.consul.",
     ("{name} 60 IN A 192.0.2.1",), [("ftp-us-west-1.example.org.", 60, "192.0.2.1")]),
    # answer value rewrites targets only; answer name owners only
    ("rewrite name regex (.*)\\.a\\.example {1}.b.example answer value (.*)\\.b\\.example "
     "{1}.a.example", "www.a.example", "www.b.example.",
     ("{name} 60 IN CNAME web.b.example.", "{name} 60 IN MX 10 mx.b.example."),
     [("www.b.example.", 60, "web.a.example."), ("www.b.example.", 60, "10 mx.a.example.")]),
    # stop (the default) ends the rules after the first that applies
    ("rewrite name a.example b.example\nrewrite name b.example c.example", "a.example",
     "b.example.", ("{name} 60 IN A 192.0.2.1",), [("a.example.", 60, "192.0.2.1")]),
    # continue goes on; replies are mapped back in reverse order
    ("rewrite continue name a.example b.example\nrewrite name b.example c.example", "a.example",
     "c.example.", ("{name} 60 IN A 192.0.2.1",), [("a.example.", 60, "192.0.2.1")]),
    # a rule that does not apply does not stop the next one
    ("rewrite name x.example y.example\nrewrite name a.example b.example", "a.example",
     "b.example.", ("{name} 60 IN A 192.0.2.1",), [("a.example.", 60, "192.0.2.1")]),
]  # fmt: skip


@pytest.mark.parametrize(("rules", "query", "seen", "records", "answer"), NAMES)
async def test_name_rules(
    rules: str,
    query: str,
    seen: str,
    records: tuple[str, ...],
    answer: list[tuple[str, int, str]],
) -> None:
    backend = Backend(records)
    req = make_request(query)
    code, w = await run(build(rules, backend), req)
    assert code == NOERROR
    assert [r.name for r in backend.seen] == [seen]
    reply = w.reply
    assert str(reply.q.qname) == query + "."
    assert reply.q.qtype == A
    assert rows(reply.rr) == answer
    assert req.name == query + "."  # the client's request is left as it came
    assert req.answered_by == "backend"


async def test_no_rule_applies_passes_the_request_itself() -> None:
    backend = Backend()
    req = make_request("other.example")
    await run(build("rewrite name a.example b.example", backend), req)
    assert backend.seen == [req]


@pytest.mark.parametrize(
    ("rules", "query", "qclass", "seen"),
    [
        ("rewrite type ANY HINFO", ("a.example", "ANY"), "IN", ("a.example.", HINFO, 1)),
        ("rewrite type AAAA A", ("a.example", "MX"), "IN", ("a.example.", 15, 1)),
        ("rewrite class CH IN", ("a.example", "TXT"), "CH", ("a.example.", 16, 1)),
        (
            "rewrite continue type ANY HINFO\nrewrite name a.example b.example",
            ("a.example", "ANY"),
            "IN",
            ("b.example.", HINFO, 1),
        ),
    ],
)
async def test_type_and_class_rules(
    rules: str, query: tuple[str, str], qclass: str, seen: tuple[str, int, int]
) -> None:
    backend = Backend(())
    req = make_request(*query, qclass=qclass)
    _, w = await run(build(rules, backend), req)
    got = backend.seen[0]
    assert (got.name, got.qtype, got.qclass) == seen
    question = w.reply.q
    assert (question.qtype, question.qclass) == (req.qtype, req.qclass)


async def test_ttl_rule_clamps_matching_names_only() -> None:
    records = ("{name} 5 IN A 192.0.2.1", "{name} 3600 IN A 192.0.2.2", "{name} 100 IN A 192.0.2.3")
    handler = build("rewrite ttl suffix .example.org 30-300", Backend(records))
    _, w = await run(handler, make_request("www.example.org"))
    assert [ttl for _, ttl, _ in rows(w.reply.rr)] == [30, 300, 100]
    _, w = await run(handler, make_request("www.example.com"))
    assert [ttl for _, ttl, _ in rows(w.reply.rr)] == [5, 3600, 100]


async def test_rcode_rule() -> None:
    rule = "rewrite rcode suffix .coredns.rocks SERVFAIL NXDOMAIN"
    # a written SERVFAIL: the returned code says a reply was written (as CoreDNS's success)
    code, w = await run(build(rule, Backend(rcode=SERVFAIL)), make_request("a.coredns.rocks"))
    assert (code, w.reply.header.rcode) == (NOERROR, NXDOMAIN)
    # nothing written by the chain: rewrite writes the error itself, so the rule applies too
    backend = Backend(rcode=SERVFAIL, write=False)
    code, w = await run(build(rule, backend), make_request("a.coredns.rocks"))
    assert (code, w.reply.header.rcode) == (NOERROR, NXDOMAIN)
    code, w = await run(build(rule, Backend(rcode=NXDOMAIN)), make_request("a.coredns.rocks"))
    assert (code, w.reply.header.rcode) == (NXDOMAIN, NXDOMAIN)
    code, w = await run(build(rule, Backend(rcode=SERVFAIL)), make_request("a.example"))
    assert (code, w.reply.header.rcode) == (SERVFAIL, SERVFAIL)


async def test_unwritten_error_gets_the_clients_question() -> None:
    backend = Backend(rcode=SERVFAIL, write=False)
    handler = build("rewrite name a.example b.example", backend)
    code, w = await run(handler, make_request("a.example"))
    assert code == NOERROR
    assert (str(w.reply.q.qname), w.reply.header.rcode) == ("a.example.", SERVFAIL)


async def test_plugin_error_is_answered_and_raised() -> None:
    handler = build("rewrite name a.example b.example", Backend(error=True))
    w = RecordingWriter()
    with pytest.raises(PluginError, match="backend broke"):
        await handler.serve_dns(make_request("a.example"), w)
    assert (str(w.reply.q.qname), w.reply.header.rcode) == ("a.example.", SERVFAIL)


async def test_invalid_name_after_rewrite() -> None:
    backend = Backend()
    handler = build("rewrite name regex ^(.*)$ {1}{1}{1}{1}{1}{1}{1}{1}", backend)
    with pytest.raises(PluginError, match="invalid name after rewrite"):
        await run(handler, make_request("abcdefghij.example"))
    assert backend.seen == []


def options(req: Request) -> list[tuple[int, bytes]]:
    opt = req.opt
    assert opt is not None
    return [(o.code, bytes(o.data)) for o in opt.rdata]


EDNS = [
    # (rule, client options, options the backend sees)
    ("rewrite edns0 local set 0xffee 0x61626364", None, [(0xFFEE, b"abcd")]),
    ("rewrite edns0 local set 0xffee abcd", [(0xFFEE, b"old")], [(0xFFEE, b"abcd")]),
    ("rewrite edns0 local append 0xffee abcd", [(0xFFEE, b"old")], [(0xFFEE, b"old")]),
    ("rewrite edns0 local replace 0xffee abcd", [], []),
    ("rewrite edns0 local unset 0xffee", [(0xFFEE, b"old"), (10, b"c")], [(10, b"c")]),
    ("rewrite edns0 local set 1 {client_ip}", None, [(1, bytes([10, 240, 0, 1]))]),
    ("rewrite edns0 local set 1 {client_port}", None, [(1, (40212).to_bytes(2, "big"))]),
    ("rewrite edns0 local set 1 {server_ip}", None, [(1, bytes([127, 0, 0, 1]))]),
    ("rewrite edns0 local set 1 {server_port}", None, [(1, (53).to_bytes(2, "big"))]),
    ("rewrite edns0 local set 1 {qname}", None, [(1, b"Q.example.")]),
    ("rewrite edns0 local set 1 {qtype}", None, [(1, b"\x00\x01")]),
    ("rewrite edns0 local set 1 {protocol}", None, [(1, b"udp")]),
    ("rewrite edns0 local set 1 {test/label}", None, [(1, b"from-meta")]),
    ("rewrite edns0 local set 1 {test/missing}", [], []),
    ("rewrite edns0 nsid set", [], [(3, b"")]),
    ("rewrite edns0 subnet set 24 56", [], [(8, b"\x00\x01\x18\x00\x0a\xf0\x00")]),
    # a shorter prefix the client chose is kept, with the client's own address
    ("rewrite edns0 subnet replace 24 56", [(8, b"\x00\x01\x10\x00\x01\x02")],
     [(8, b"\x00\x01\x10\x00\x0a\xf0")]),
    ("rewrite edns0 subnet unset", [(8, b"\x00\x01\x10\x00\x01\x02")], []),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "client", "seen"), EDNS)
async def test_edns0_rules(
    rule: str, client: list[tuple[int, bytes]] | None, seen: list[tuple[int, bytes]]
) -> None:
    backend = Backend()
    req = make_request("Q.example", bufsize=1232 if client is not None else None)
    if client:
        opt = req.opt
        assert opt is not None
        opt.rdata = [dnslib.EDNSOption(code, data) for code, data in client]
    req.meta["test/label"] = "from-meta"
    before = None if req.opt is None else options(req)
    await run(build(rule, backend), req)
    assert options(backend.seen[0]) == seen
    assert (None if req.opt is None else options(req)) == before


async def test_edns0_subnet_ipv6() -> None:
    backend = Backend()
    req = make_request("q.example", remote=("2001:db8:1:2::5", 5353))
    await run(build("rewrite edns0 subnet set 24 56", backend), req)
    assert options(backend.seen[0]) == [(8, b"\x00\x02\x38\x00" + bytes.fromhex("20010db8000100"))]


async def test_edns0_revert_restores_the_clients_options() -> None:
    backend = Backend(echo_opt=True)
    handler = build("rewrite edns0 local set 0xffee abcd revert", backend)
    req = make_request("q.example", bufsize=1232)
    _, w = await run(handler, req)
    reply_opt = [rr for rr in w.reply.ar if rr.rtype == OPT]
    assert [o.code for o in reply_opt[0].rdata] == []  # the client sent no 0xffee option
    assert options(backend.seen[0]) == [(0xFFEE, b"abcd")]


async def test_edns0_rule_that_does_not_apply_does_not_stop() -> None:
    backend = Backend()
    req = make_request("a.example", bufsize=1232)
    opt = req.opt
    assert opt is not None
    opt.rdata = [dnslib.EDNSOption(0xFFEE, b"x")]
    rules = "rewrite edns0 local append 0xffee y\nrewrite name a.example b.example"
    await run(build(rules, backend), req)
    assert backend.seen[0].name == "b.example."


async def test_cname_rule_follows_the_new_target() -> None:
    records = ("{name} 60 IN CNAME old.lb.example.", "old.lb.example. 60 IN A 192.0.2.1")
    handler = build("rewrite cname suffix .lb.example. .lb.internal.", Backend(records))
    assert isinstance(handler, Rewrite)
    asked: list[tuple[str, int]] = []

    async def resolve(name: str, qtype: int) -> dnslib.DNSRecord:
        asked.append((name, qtype))
        reply = dnslib.DNSRecord.question(name).reply()
        reply.add_answer(*dnslib.RR.fromZone(f"{name} 30 IN A 10.0.0.7"))
        return reply

    handler.resolve = resolve
    _, w = await run(handler, make_request("www.example"))
    assert asked == [("old.lb.internal.", A)]
    assert rows(w.reply.rr) == [
        ("www.example.", 60, "old.lb.internal."),
        ("old.lb.internal.", 30, "10.0.0.7"),
    ]
