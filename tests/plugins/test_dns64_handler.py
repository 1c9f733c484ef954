"""dns64 handler: when AAAA records are synthesised, their addresses, TTLs, sections and rcode."""

from __future__ import annotations

import ipaddress

import dnslib
import pytest

from kdns.plugins.base import NOERROR, NXDOMAIN, SERVFAIL, PluginError, Request, ResponseWriter
from kdns.plugins.dns64 import Dns64
from kdns.plugins.dns64.handler import to6
from kdns.plugins.dns64.metrics import TRANSLATED
from kdns.plugins.testing import build, make_request, run

V6 = ("2001:db8::53", 40000)
V4 = ("192.0.2.1", 40000)
SOA = "example.org. 300 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 60"

#: What the stub "rest of the chain" holds, per query type: (rcode, answer lines, authority).
Zone = dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]]
NODATA: Zone = {
    "AAAA": (NOERROR, (), (SOA,)),
    "A": (NOERROR, ("www.example.org. 3600 IN A 192.0.2.33",), ()),
}


class Backend:
    """A next handler answering from a small table by query type, recording each request."""

    name = "backend"

    def __init__(self, zone: Zone, *, fail_a: bool = False, write: bool = True) -> None:
        self.zone = zone
        self.fail_a = fail_a
        self.write = write
        self.calls: list[Request] = []

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        self.calls.append(req)
        if req.type_name == "A" and self.fail_a:
            raise PluginError("backend", "connection refused")
        if not self.write:
            return SERVFAIL
        rcode, answers, auth = self.zone.get(req.type_name, (NOERROR, (), ()))
        reply = req.reply(rcode, aa=True)
        for line in answers:
            reply.add_answer(*dnslib.RR.fromZone(line))
        for line in auth:
            reply.add_auth(*dnslib.RR.fromZone(line))
        w.write(reply)
        return rcode


def rows(section: list[dnslib.RR]) -> list[tuple[str, str, int, str]]:
    return [(str(rr.rname), dnslib.QTYPE[rr.rtype], rr.ttl, str(rr.rdata)) for rr in section]


async def ask(
    directive: str,
    zone: Zone,
    qtype: str = "AAAA",
    remote: tuple[str, int] = V6,
    **kw: bool,
) -> tuple[int, dnslib.DNSRecord, Backend]:
    backend = Backend(zone, **kw)
    handler = build(directive, backend)
    assert isinstance(handler, Dns64)
    rcode, w = await run(handler, make_request("www.example.org", qtype, remote=remote))
    return rcode, w.reply, backend


CASES = [
    pytest.param(
        "dns64",
        NODATA,
        [("www.example.org.", "AAAA", 300, "64:ff9b::c000:221")],
        id="nodata-soa-ttl-bounds",
    ),
    pytest.param(
        "dns64",
        {"AAAA": (NOERROR, (), ()), "A": NODATA["A"]},
        [("www.example.org.", "AAAA", 600, "64:ff9b::c000:221")],
        id="no-soa-600",
    ),
    pytest.param(
        "dns64",
        {"AAAA": (NOERROR, (), (SOA,)), "A": (NOERROR, ("www.example.org. 30 IN A 10.1.2.3",), ())},
        [("www.example.org.", "AAAA", 30, "64:ff9b::a01:203")],
        id="a-ttl-smaller",
    ),
    pytest.param(
        "dns64 64:1337::/96",
        NODATA,
        [("www.example.org.", "AAAA", 300, "64:1337::c000:221")],
        id="custom-prefix",
    ),
    pytest.param(
        "dns64 {\n  prefix 2001:db8:122:344::/64\n}",
        NODATA,
        [("www.example.org.", "AAAA", 300, "2001:db8:122:344:c0:2:2100:0")],
        id="prefix-64-skips-u-octet",
    ),
    pytest.param(
        "dns64",
        {
            "AAAA": (NOERROR, (), (SOA,)),
            "A": (
                NOERROR,
                (
                    "www.example.org. 100 IN CNAME web.example.org.",
                    "web.example.org. 200 IN A 192.0.2.1",
                    "web.example.org. 200 IN A 192.0.2.2",
                ),
                (),
            ),
        },
        [
            ("www.example.org.", "CNAME", 100, "web.example.org."),
            ("web.example.org.", "AAAA", 200, "64:ff9b::c000:201"),
            ("web.example.org.", "AAAA", 200, "64:ff9b::c000:202"),
        ],
        id="cname-kept-a-owner",
    ),
    pytest.param(
        "dns64",
        {"AAAA": (SERVFAIL, (), ()), "A": NODATA["A"]},
        [("www.example.org.", "AAAA", 600, "64:ff9b::c000:221")],
        id="written-servfail-is-translated-as-coredns",
    ),
    pytest.param(
        "dns64",
        {"AAAA": (NOERROR, (), (SOA,)), "A": (NOERROR, (), (SOA,))},
        [],
        id="no-a-either",
    ),
]


@pytest.mark.parametrize(("directive", "zone", "want"), CASES)
async def test_synthesis(directive: str, zone: Zone, want: list[tuple[str, str, int, str]]) -> None:
    """A NODATA (or error) AAAA reply becomes the A answer made AAAA: NOERROR, not AA."""
    rcode, reply, backend = await ask(directive, zone)
    assert rcode == NOERROR
    assert reply.header.rcode == NOERROR
    assert not reply.header.aa
    assert rows(reply.rr) == want
    assert [c.type_name for c in backend.calls] == ["AAAA", "A"]
    # the authority section is the A reply's, as CoreDNS copies it
    assert rows(reply.auth) == rows(
        [rr for line in zone["A"][2] for rr in dnslib.RR.fromZone(line)]
    )


PASSED = [
    pytest.param(
        "dns64",
        {"AAAA": (NOERROR, ("www.example.org. 60 IN AAAA 2001:db8::1",), ())},
        "AAAA",
        V6,
        ["AAAA"],
        id="has-aaaa",
    ),
    pytest.param("dns64", {"AAAA": (NXDOMAIN, (), (SOA,))}, "AAAA", V6, ["AAAA"], id="nxdomain"),
    pytest.param("dns64", NODATA, "AAAA", V4, ["AAAA"], id="ipv4-client"),
    pytest.param("dns64", NODATA, "A", V6, ["A"], id="a-query"),
    pytest.param("dns64", NODATA, "MX", V6, ["MX"], id="mx-query"),
]


@pytest.mark.parametrize(("directive", "zone", "qtype", "remote", "calls"), PASSED)
async def test_passed_unchanged(
    directive: str, zone: Zone, qtype: str, remote: tuple[str, int], calls: list[str]
) -> None:
    """Replies that need no synthesis reach the client exactly as the chain wrote them."""
    rcode, reply, backend = await ask(directive, zone, qtype, remote)
    rcode_want, answers, _auth = zone.get(qtype, (NOERROR, (), ()))
    assert rcode == rcode_want == reply.header.rcode
    assert reply.header.aa  # the backend's reply, untouched
    assert [str(rr.rdata) for rr in reply.rr] == [
        str(rr.rdata) for line in answers for rr in dnslib.RR.fromZone(line)
    ]
    assert [c.type_name for c in backend.calls] == calls


async def test_translate_all_replaces_real_aaaa() -> None:
    zone: Zone = {
        "AAAA": (NOERROR, ("www.example.org. 60 IN AAAA 2001:db8::1",), ()),
        "A": NODATA["A"],
    }
    _, reply, _ = await ask("dns64 {\n  translate_all\n}", zone)
    assert rows(reply.rr) == [("www.example.org.", "AAAA", 600, "64:ff9b::c000:221")]


async def test_translate_all_keeps_nxdomain() -> None:
    rcode, reply, backend = await ask("dns64 {\n  translate_all\n}", {"AAAA": (NXDOMAIN, (), ())})
    assert rcode == NXDOMAIN == reply.header.rcode
    assert len(backend.calls) == 1


async def test_allow_ipv4() -> None:
    _, reply, _ = await ask("dns64 {\n  allow_ipv4\n}", NODATA, remote=V4)
    assert rows(reply.rr) == [("www.example.org.", "AAAA", 300, "64:ff9b::c000:221")]


async def test_a_lookup_failure_keeps_the_aaaa_reply() -> None:
    """kdns departs from CoreDNS here: a failed A lookup leaves the NODATA reply as it was."""
    rcode, reply, backend = await ask("dns64", NODATA, fail_a=True)
    assert rcode == NOERROR
    assert reply.rr == []
    assert rows(reply.auth) == rows(list(dnslib.RR.fromZone(SOA)))
    assert len(backend.calls) == 2


async def test_nothing_written_is_passed_up() -> None:
    backend = Backend(NODATA, write=False)
    rcode, w = await run(build("dns64", backend), make_request("x.example.org", "AAAA", remote=V6))
    assert rcode == SERVFAIL
    assert w.replies == []


async def test_sub_request_keeps_client_and_edns() -> None:
    """The A query goes down the chain as the client's: same address, transport, DO bit."""
    backend = Backend(NODATA)
    req = make_request("WWW.example.org", "AAAA", remote=V6, proto="tcp", do=True)
    req.view = "inside"
    _, w = await run(build("dns64", backend), req)
    sub = backend.calls[1]
    assert (sub.name, sub.type_name, sub.remote, sub.proto, sub.do) == (
        "WWW.example.org.",
        "A",
        V6,
        "tcp",
        True,
    )
    assert sub.view == "inside"
    assert str(w.reply.questions[0].qname) == "WWW.example.org."
    assert w.reply.header.id == req.id


async def test_metric_counts_translations() -> None:
    before = TRANSLATED.get(("dns://:53",))
    await ask("dns64", NODATA)
    await ask("dns64", NODATA, remote=V4)  # not translated
    assert TRANSLATED.get(("dns://:53",)) == before + 1


RFC6052 = [  # RFC 6052 section 2.4, the table of examples for 192.0.2.33
    ("2001:db8::/32", "2001:db8:c000:221::"),
    ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
    ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
    ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
    ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
    ("2001:db8:122:344::/96", "2001:db8:122:344::c000:221"),
]


@pytest.mark.parametrize(("prefix", "want"), RFC6052)
def test_to6_matches_rfc6052(prefix: str, want: str) -> None:
    got = to6(ipaddress.IPv6Network(prefix), bytes([192, 0, 2, 33]))
    assert ipaddress.IPv6Address(got) == ipaddress.IPv6Address(want)
