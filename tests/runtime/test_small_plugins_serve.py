"""The small plugins over real sockets: acl, any, chaos, header, local, minimal and nsid."""

from __future__ import annotations

import socket

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from kdns.plugins.chaos.handler import default_version
from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask


def ede_codes(reply: dns.message.Message) -> list[int]:
    return [int(o.code) for o in reply.options if isinstance(o, dns.edns.EDEOption)]


def texts(reply: dns.message.Message) -> list[str]:
    return [b"".join(rd.strings).decode() for rrs in reply.answer for rd in rrs]


async def test_acl_allows_blocks_filters_and_drops() -> None:
    """Blocked: REFUSED + EDE 15; filtered: empty NOERROR + EDE 17; dropped: no reply at all."""
    port = free_port()
    corefile = f"""\
.:{port} {{
    acl {{
        block type MX net 127.0.0.0/8
        filter type AAAA
        drop type TXT net 127.0.0.1
        allow net 127.0.0.0/8
        block
    }}
    whoami
}}
"""
    async with running(corefile):
        allowed = await ask(port, "example.org", "A")
        assert allowed.rcode() == dns.rcode.NOERROR
        assert any(rrs.rdtype == dns.rdatatype.SRV for rrs in allowed.additional)  # whoami

        blocked = await ask(port, "example.org", "MX", use_edns=0)
        assert blocked.rcode() == dns.rcode.REFUSED
        assert ede_codes(blocked) == [15]
        plain = await ask(port, "example.org", "MX", tcp=True)  # no EDNS: no OPT back
        assert plain.rcode() == dns.rcode.REFUSED
        assert plain.edns < 0

        filtered = await ask(port, "example.org", "AAAA", use_edns=0)
        assert filtered.rcode() == dns.rcode.NOERROR
        assert filtered.answer == []
        assert filtered.additional == []
        assert ede_codes(filtered) == [17]

        with pytest.raises(dns.exception.Timeout):
            await ask(port, "example.org", "TXT", timeout=0.3)
        # the listener still answers after a drop
        assert (await ask(port, "example.org", "A")).rcode() == dns.rcode.NOERROR


async def test_any_answers_hinfo_and_passes_other_types() -> None:
    port = free_port()
    async with running(f".:{port} {{\n    any\n    whoami\n}}\n"):
        for tcp in (False, True):
            reply = await ask(port, "Example.org", "ANY", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            [rrs] = reply.answer
            assert (str(rrs.name), rrs.rdtype, rrs.ttl) == (
                "Example.org.",
                dns.rdatatype.HINFO,
                8482,
            )
            assert (rrs[0].cpu, rrs[0].os) == (b"ANY obsoleted", b"See RFC 8482")
        other = await ask(port, "example.org", "A")
        assert other.answer == []
        assert any(rrs.rdtype == dns.rdatatype.SRV for rrs in other.additional)


async def test_chaos_answers_ch_txt_and_opens_the_listener_to_ch() -> None:
    """A listener without chaos refuses CH queries; with it they are answered."""
    port, plain_port = free_port(), free_port()
    corefile = (
        f".:{port} {{\n    chaos MyDNS-1.0 ann bob\n    whoami\n}}\n"
        f".:{plain_port} {{\n    whoami\n}}\n"
    )
    async with running(corefile):
        ch = {"rdclass": dns.rdataclass.CH}
        for tcp in (False, True):
            reply = await ask(port, "version.bind", "TXT", tcp=tcp, **ch)
            assert reply.rcode() == dns.rcode.NOERROR
            assert texts(reply) == ["MyDNS-1.0"]
            assert reply.answer[0].rdclass == dns.rdataclass.CH
        assert sorted(texts(await ask(port, "authors.bind", "TXT", **ch))) == ["ann", "bob"]
        assert texts(await ask(port, "hostname.bind", "TXT", **ch)) == [socket.gethostname()]
        # IN class TXT for the same name goes on to whoami
        passed = await ask(port, "version.bind", "TXT")
        assert passed.answer == []
        assert passed.additional
        refused = await ask(plain_port, "version.bind", "TXT", **ch)
        assert refused.rcode() == dns.rcode.REFUSED


async def test_chaos_default_version_is_kdns() -> None:
    port = free_port()
    async with running(f".:{port} {{\n    chaos\n}}\n"):
        reply = await ask(port, "version.server", "TXT", rdclass=dns.rdataclass.CH)
        assert texts(reply) == [default_version()]


async def test_header_sets_and_clears_flags() -> None:
    port, query_port = free_port(), free_port()
    corefile = (
        f".:{port} {{\n    header {{\n        response set ra\n        response clear aa\n"
        f"    }}\n    whoami\n}}\n"
        f".:{query_port} {{\n    header {{\n        query clear rd\n    }}\n    whoami\n}}\n"
    )
    async with running(corefile):
        reply = await ask(port, "example.org")
        assert reply.flags & dns.flags.RA
        assert not reply.flags & dns.flags.AA  # whoami sets AA; header clears it
        assert reply.flags & dns.flags.RD
        reply = await ask(query_port, "example.org")
        assert not reply.flags & dns.flags.RD  # cleared in the query, so not copied back
        assert reply.flags & dns.flags.AA


async def test_local_answers_localhost_names() -> None:
    """local answers in front of the cache, which keeps its fast path (local is transparent)."""
    port = free_port()
    async with running(f".:{port} {{\n    local\n    cache\n    whoami\n}}\n") as server:
        assert server.current is not None
        routes = [
            r for mux in server.current.muxes.values() for rs in mux.routes.values() for r in rs
        ]
        assert [bool(r.fast) for r in routes] == [True]  # the cache answers from bytes
        a = await ask(port, "localhost", "A")
        assert [rd.address for rrs in a.answer for rd in rrs] == ["127.0.0.1"]
        assert a.answer[0].ttl == 604800
        aaaa = await ask(port, "app.localhost", "AAAA", tcp=True)
        assert [rd.address for rrs in aaaa.answer for rd in rrs] == ["::1"]
        ptr = await ask(port, "1.0.0.127.in-addr.arpa", "PTR")
        assert [str(rd.target) for rrs in ptr.answer for rd in rrs] == ["localhost."]
        nx = await ask(port, "2.0.0.127.in-addr.arpa", "PTR")
        assert nx.rcode() == dns.rcode.NXDOMAIN
        assert nx.authority[0].rdtype == dns.rdatatype.SOA
        other = await ask(port, "example.org", "A")  # not local: whoami answers
        assert any(rrs.rdtype == dns.rdatatype.SRV for rrs in other.additional)


async def test_minimal_strips_additional_of_positive_answers() -> None:
    """whoami's reply (NOERROR, additional records) loses them; the OPT stays."""
    port, full_port = free_port(), free_port()
    corefile = f".:{port} {{\n    minimal\n    whoami\n}}\n.:{full_port} {{\n    whoami\n}}\n"
    async with running(corefile):
        full = await ask(full_port, "example.org")
        assert len(full.additional) == 2
        for tcp in (False, True):
            reply = await ask(port, "example.org", tcp=tcp, use_edns=0)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.additional == []
            assert reply.authority == []
            assert reply.edns == 0  # the OPT record is kept


async def test_nsid_identifies_the_server_when_asked() -> None:
    port = free_port()
    async with running(f".:{port} {{\n    nsid Use The Force\n    whoami\n}}\n"):
        asked = await ask(port, "example.org", use_edns=0, options=[dns.edns.NSIDOption(b"")])
        nsid = [o for o in asked.options if isinstance(o, dns.edns.NSIDOption)]
        assert [o.nsid for o in nsid] == [b"Use The Force"]
        assert any(rrs.rdtype == dns.rdatatype.SRV for rrs in asked.additional)
        silent = await ask(port, "example.org", use_edns=0)
        assert silent.options == ()
