"""log handler: which queries are logged, and each placeholder rendered as CoreDNS does."""

from __future__ import annotations

from collections.abc import Callable

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN, REFUSED, SERVFAIL, PluginError, Request
from kdns.plugins.log.classify import classify
from kdns.plugins.log.format import compile_format, seconds, uncompressed_size
from kdns.plugins.log.handler import Log
from kdns.plugins.testing import StubHandler, build, make_request, run

SOA = "example.org. 300 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300"
#: What the injected clock advances per reading: every query "takes" 37,990 ns.
TOOK_NS = 37_990


class Raising:
    """A next handler that fails the way forward does with every upstream down."""

    name = "raising"

    async def serve_dns(self, req: Request, w: object) -> int:
        raise PluginError("forward", "no healthy proxies")


Lines = Callable[[], list[str]]


def messages(lines: Lines) -> list[str]:
    """Return the query lines without `[INFO] `."""
    out = []
    for line in lines():
        assert line.startswith("[INFO] "), line
        out.append(line.removeprefix("[INFO] "))
    return out


def make_log(text: str, nxt: object) -> Log:
    handler = build(text, nxt)  # type: ignore[arg-type]
    assert isinstance(handler, Log)
    ticks = iter(range(0, 10**12, TOOK_NS))
    handler.clock = lambda: next(ticks)
    return handler


def query(
    name: str = "example.org", qtype: str = "A", *, ident: int = 29008, **kw: object
) -> Request:
    req = make_request(name, qtype, **kw)  # type: ignore[arg-type]
    req.msg.header.id = ident
    return req


async def test_common_format_line_for_an_answer(lines: Lines) -> None:
    """The default line: client, id, question, sizes, rcode, reply flags, size, duration."""
    stub = StubHandler(NOERROR, ("example.org. 60 IN A 192.0.2.1",))
    rcode, w = await run(make_log("log", stub), query())
    assert rcode == NOERROR
    assert w.reply.rr[0].rdata == dnslib.A("192.0.2.1")  # the reply still reaches the client
    # reply: header 12 + question 17 + A record 27, uncompressed
    assert messages(lines) == [
        '10.240.0.1:40212 - 29008 "A IN example.org. udp 29 false 512" NOERROR qr,rd 56 0.00003799s'
    ]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, '10.240.0.1:40212 - 7 "AAAA IN example.org. udp 29 false 512"'),
        ({"bufsize": 4096}, '10.240.0.1:40212 - 7 "AAAA IN example.org. udp 40 false 4096"'),
        (
            {"bufsize": 100, "do": True},
            '10.240.0.1:40212 - 7 "AAAA IN example.org. udp 40 true 512"',
        ),
        ({"proto": "tcp"}, '10.240.0.1:40212 - 7 "AAAA IN example.org. tcp 29 false 65535"'),
        (
            {"remote": ("2001:db8::1", 5353)},
            '[2001:db8::1]:5353 - 7 "AAAA IN example.org. udp 29 false 512"',
        ),
    ],
)
async def test_request_fields(kw: dict[str, object], expected: str, lines: Lines) -> None:
    """Size, DO bit and buffer size come from the query; TCP means 65535; no EDNS means 512."""
    await run(make_log("log", StubHandler(NOERROR)), query("Example.ORG", "AAAA", ident=7, **kw))
    assert messages(lines) == [f"{expected} NOERROR qr,rd 29 0.00003799s"]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("{type} {class}", "MX IN"),
        ("{name}", "www.example.org."),
        ("{proto}/{size}/{port}", "udp/33/40212"),
        ("{remote} {local}", "10.240.0.1 127.0.0.1"),
        ("{>id} {>opcode}", "4242 0"),
        ("{rcode} {rsize} {>rflags}", "NXDOMAIN 111 qr,aa,rd"),  # 12+21+(13+10+55)
        ("{duration}", "0.00003799s"),
        ("{combined}x", "{combined}x"),  # only a whole argument names a built-in format
        ("{>ID} {when}", "{>ID} {when}"),  # unknown placeholders stay as written
        ("{ {type} }", "{ MX }"),  # the last '{' before each '}' opens a placeholder
        ("A } {type} {", "A } MX {"),
        ("{/kdns/zone}|{/missing}", "example.org|-"),
    ],
)
async def test_placeholders(fmt: str, expected: str, lines: Lines) -> None:
    """Each placeholder of CoreDNS's replacer; anything else is literal text."""

    class Denier:
        name = "denier"

        async def serve_dns(self, req: Request, w: object) -> int:
            req.meta["kdns/zone"] = "example.org"
            reply = req.reply(NXDOMAIN, aa=True)
            reply.add_auth(*dnslib.RR.fromZone(SOA))
            w.write(reply)  # type: ignore[attr-defined]
            return NXDOMAIN

    await run(make_log(f'log . "{fmt}"', Denier()), query("www.example.org", "MX", ident=4242))
    assert messages(lines) == [expected]


async def test_ipv6_local_address_is_bracketed(lines: Lines) -> None:
    req = query()
    req.local = ("::1", 53)
    await run(make_log('log . "{local} {remote}"', StubHandler()), req)
    assert messages(lines) == ["[::1] 10.240.0.1"]


async def test_reply_size_is_uncompressed(lines: Lines) -> None:
    """{rsize} counts names in full, as miekg's Len() does without compression."""
    answers = ("www.example.org. 60 IN CNAME example.org.", "example.org. 60 IN A 192.0.2.1")
    await run(make_log('log . "{rsize}"', StubHandler(NOERROR, answers)), query("www.example.org"))
    # header 12, question 21, CNAME 17+10+13, A 13+10+4
    assert messages(lines) == ["100"]
    reply = query("www.example.org").reply()
    for text in answers:
        reply.add_answer(*dnslib.RR.fromZone(text))
    assert uncompressed_size(reply) == 100 > len(reply.pack())


async def test_unwritten_error_is_logged_from_the_reply_the_server_writes(
    lines: Lines,
) -> None:
    """SERVFAIL/REFUSED returned without writing: logged as that rcode, header and question."""
    for rcode in (SERVFAIL, REFUSED):
        got, w = await run(make_log("log", StubHandler(rcode, write=False)), query())
        assert got == rcode
        assert w.replies == []  # log does not write: the server does
    assert [m.split('" ')[1] for m in messages(lines)] == [
        "SERVFAIL qr,rd 29 0.00003799s",
        "REFUSED qr,rd 29 0.00003799s",
    ]


async def test_nothing_written_with_noerror_logs_no_flags(lines: Lines) -> None:
    """A handler that returns NOERROR but writes nothing: CoreDNS logs NOERROR, '-' flags, 0."""
    await run(make_log('log . "{rcode} {>rflags} {rsize}"', StubHandler(write=False)), query())
    assert messages(lines) == ["NOERROR - 0"]


async def test_plugin_error_is_logged_as_servfail_and_raised_on(lines: Lines) -> None:
    """An error raised behind log is logged, then left for errors (in front of log)."""
    with pytest.raises(PluginError, match="no healthy proxies"):
        await run(make_log('log . "{name} {rcode}"', Raising()), query())
    assert messages(lines) == ["example.org. SERVFAIL"]


async def test_no_next_plugin_is_an_error(lines: Lines) -> None:
    with pytest.raises(PluginError, match="plugin/log: no next plugin found"):
        await run(make_log("log", None), query())
    assert len(messages(lines)) == 1


@pytest.mark.parametrize(
    ("text", "qname", "logged"),
    [
        ("log example.org", "example.org", True),
        ("log example.org", "www.Example.org", True),
        ("log example.org", "badexample.org", False),
        ("log example.org", "example.com", False),
        ("log example.org example.net", "a.example.net", True),
        ("log stdout", "example.org", False),
        # the first rule covering the name decides, even if its class filter says no
        ("log example.org {\nclass denial\n}\nlog", "example.org", False),
        ("log example.org {\nclass denial\n}\nlog", "example.com", True),
    ],
)
async def test_rules_by_name(text: str, qname: str, logged: bool, lines: Lines) -> None:
    """A query is logged by the first rule whose name is it or a parent; the rest pass."""
    stub = StubHandler(NOERROR, (f"{qname}. 60 IN A 192.0.2.1",))
    rcode, w = await run(make_log(text, stub), query(qname))
    assert rcode == NOERROR
    assert len(w.replies) == 1
    assert len(stub.calls) == 1
    assert len(messages(lines)) == int(logged)


def answer(rcode: int, *records: str, auth: tuple[str, ...] = ()) -> StubHandler:
    stub = StubHandler(rcode, records)
    if auth:

        async def serve(req: Request, w: object) -> int:
            reply = req.reply(rcode)
            for text in records:
                reply.add_answer(*dnslib.RR.fromZone(text))
            for text in auth:
                reply.add_auth(*dnslib.RR.fromZone(text))
            w.write(reply)  # type: ignore[attr-defined]
            return rcode

        stub.serve_dns = serve  # type: ignore[method-assign]
    return stub


A = "example.org. 60 IN A 192.0.2.1"
NS = "example.org. 60 IN NS ns.example.org."


@pytest.mark.parametrize(
    ("next_handler", "klass"),
    [
        (answer(NOERROR, A), "success"),
        (answer(NOERROR, auth=(NS,)), "success"),  # a delegation
        (answer(NOERROR), "success"),  # empty, no SOA: CoreDNS calls it NOERROR too
        (answer(NOERROR, auth=(SOA,)), "denial"),  # NODATA
        (answer(NXDOMAIN, auth=(SOA,)), "denial"),
        (answer(NXDOMAIN), "error"),  # NXDOMAIN without SOA is "other error"
        (StubHandler(SERVFAIL, write=False), "error"),
        (answer(REFUSED), "error"),
        (answer(4), "error"),
    ],
)
async def test_classes(next_handler: StubHandler, klass: str, lines: Lines) -> None:
    """Each class logs exactly the replies CoreDNS classifies so; `all` logs every one."""
    for configured in ("success", "denial", "error", "success denial error", "all"):
        text = f'log . "{{rcode}}" {{\nclass {configured}\n}}'
        before = len(lines())
        await run(make_log(text, next_handler), query())
        expected = klass in configured.split() or configured == "all"
        assert len(lines()) - before == int(expected), configured


def test_expired_signature_with_do_is_an_error() -> None:
    """A DO reply carrying an RRSIG outside its validity period is an error, as in CoreDNS."""
    reply = query(do=True).reply()
    reply.add_answer(*dnslib.RR.fromZone(A))
    sig = "example.org. 60 IN RRSIG A 8 2 60 20000101000000 19990101000000 1 example.org. AA=="
    reply.add_answer(*dnslib.RR.fromZone(sig))
    assert classify(reply) == "success"  # no OPT with DO: signatures are not looked at
    reply.add_ar(dnslib.EDNS0(flags="do"))
    assert classify(reply) == "error"


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "0.000000001s"),
        (37_990, "0.00003799s"),
        (106_009, "0.000106009s"),
        (37_990_251, "0.037990251s"),
        (1_000_000_000, "1s"),
        (1_500_000_000, "1.5s"),
        (61_000_000_123, "61.000000123s"),
    ],
)
def test_duration_as_go_formats_seconds(ns: int, text: str) -> None:
    assert seconds(ns) == text


def test_format_is_compiled_into_literals_and_values() -> None:
    pieces = compile_format('{remote}:{port} - {>id} "{type}" {x} {/a}')
    assert [p for p in pieces if isinstance(p, str)] == [":", " - ", ' "', '" {x} ']
    assert len(pieces) == 9
