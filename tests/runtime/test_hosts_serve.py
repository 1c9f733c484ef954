"""hosts over real sockets: file and inline answers, PTR, AAAA, NODATA, SERVFAIL, fallthrough to
whoami, reload of a changed file, and the entries metric."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename

from kdns.plugins.metrics import REGISTRY
from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask


def answer(reply: dns.message.Message) -> list[str]:
    return [f"{rrs.name} {rrs.ttl} {rdata}" for rrs in reply.answer for rdata in rrs]


def corefile(port: int, path: Path, strict: bool = True) -> str:
    other = f"strict.test:{port} {{\n    hosts {path} strict.test\n}}\n" if strict else ""
    return f"""\
example.org:{port} {{
    hosts {path} {{
        10.0.0.9 inline.example.org
        ttl 300
        reload 100ms
        fallthrough
    }}
    whoami
}}
{other}"""


async def test_hosts_answers_and_falls_through_to_whoami(tmp_path: Path) -> None:
    """A, AAAA, PTR and NODATA from hosts; unknown names reach whoami through fallthrough."""
    path = tmp_path / "hosts"
    path.write_text(
        "10.0.0.1 web.example.org web.strict.test\n"
        "10.0.0.2 web.example.org\n"
        "fd00::1 web.example.org\n"
    )
    port = free_port()
    async with running(corefile(port, path)):
        for tcp in (False, True):
            reply = await ask(port, "Web.Example.org", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.flags & dns.flags.AA
            assert str(reply.question[0].name) == "Web.Example.org."
            assert answer(reply) == [
                "web.example.org. 300 10.0.0.1",
                "web.example.org. 300 10.0.0.2",
            ]
        assert answer(await ask(port, "web.example.org", "AAAA")) == [
            "web.example.org. 300 fd00::1"
        ]
        assert answer(await ask(port, "inline.example.org")) == ["inline.example.org. 300 10.0.0.9"]
        nodata = await ask(port, "web.example.org", "MX")
        assert nodata.rcode() == dns.rcode.NOERROR
        assert nodata.flags & dns.flags.AA
        assert nodata.answer == []
        assert nodata.additional == []

        # unknown name: fallthrough hands it to whoami, which answers with the client address
        passed = await ask(port, "nobody.example.org")
        assert passed.answer == []
        assert any(rrs.rdtype == dns.rdatatype.SRV for rrs in passed.additional)

        # the other block has no fallthrough: SERVFAIL for an unknown name
        assert (await ask(port, "nobody.strict.test")).rcode() == dns.rcode.SERVFAIL
        assert answer(await ask(port, "web.strict.test")) == ["web.strict.test. 3600 10.0.0.1"]
        ptr = await ask(port, "1.0.0.10.in-addr.arpa", "PTR")
        assert ptr.rcode() == dns.rcode.REFUSED  # no block serves in-addr.arpa here


async def test_ptr_is_answered_in_a_reverse_block(tmp_path: Path) -> None:
    """PTR queries are answered whatever the plugin's zones, from the automatic reverse map."""
    path = tmp_path / "hosts"
    path.write_text("10.0.0.1 web.example.org\nfd00::1 six.example.org\n")
    port = free_port()
    text = f".:{port} {{\n    hosts {path} example.org\n}}\n"
    async with running(text):
        ptr = await ask(port, "1.0.0.10.in-addr.arpa", "PTR")
        assert ptr.flags & dns.flags.AA
        assert answer(ptr) == ["1.0.0.10.in-addr.arpa. 3600 web.example.org."]
        six = await ask(port, dns_reverse("fd00::1"), "PTR")
        assert answer(six)[0].endswith(" six.example.org.")
        # a PTR nobody has goes to the next plugin, and there is none: SERVFAIL
        assert (await ask(port, "2.0.0.10.in-addr.arpa", "PTR")).rcode() == dns.rcode.SERVFAIL


def dns_reverse(address: str) -> str:
    return str(dns.reversename.from_address(address))


async def test_reload_picks_up_a_changed_file(tmp_path: Path) -> None:
    """With `reload 100ms` a rewritten file is served within moments; the metric follows."""
    path = tmp_path / "hosts"
    path.write_text("10.0.0.1 web.example.org\n")
    port = free_port()
    # one hosts plugin per file here: the gauge is per file, the last block to read it wins
    async with running(corefile(port, path, strict=False)):
        assert answer(await ask(port, "web.example.org")) == ["web.example.org. 300 10.0.0.1"]
        entries = REGISTRY.metrics["coredns_hosts_entries"]
        assert entries.get((str(path),)) == 2 + 2  # file: 1 name + 1 PTR; inline: the same
        path.write_text("10.0.0.1 web.example.org\n10.0.0.77 new.example.org\n")
        for _ in range(100):
            reply = await ask(port, "new.example.org")
            if reply.answer:
                break
            await asyncio.sleep(0.05)
        assert answer(reply) == ["new.example.org. 300 10.0.0.77"]
        assert entries.get((str(path),)) == 6
