"""file over real sockets: a zone read from a file under *root*, authoritative answers, a
referral, a wildcard, a CNAME resolved into another block, AXFR/IXFR through *transfer* with
dnspython's xfr, and a reload when the SOA serial changes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone

from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask

ZONE = """\
$ORIGIN example.org.
$TTL 300
@       SOA   ns1 hostmaster ( {serial} 7200 3600 1209600 300 )
        NS    ns1
ns1     A     192.0.2.53
www     CNAME host
host    A     {address}
out     CNAME www.example.net.
*.wild  A     192.0.2.99
sub     NS    ns.sub
ns.sub  A     192.0.2.200
"""
NET = """\
@    SOA ns hm 1 7200 3600 1209600 300
     NS  ns.example.org.
www  A   198.51.100.1
"""


def lines(section: list[dns.rrset.RRset]) -> list[str]:
    return [
        f"{rrs.name} {rrs.ttl} {dns.rdatatype.to_text(rrs.rdtype)} {r}"
        for rrs in section
        for r in rrs
    ]


def corefile(port: int, root: Path) -> str:
    return f"""\
example.org:{port} {{
    root {root}
    file db.example.org {{
        reload 100ms
    }}
    transfer {{
        to *
    }}
}}
example.net:{port} {{
    file {root}/db.example.net
}}
"""


async def test_file_serves_the_zone_and_transfers_it(tmp_path: Path) -> None:
    """Answers, referral, wildcard, CNAME into another block, AXFR and IXFR, reload."""
    db = tmp_path / "db.example.org"
    db.write_text(ZONE.format(serial=1, address="192.0.2.80"))
    (tmp_path / "db.example.net").write_text(NET)
    port = free_port()
    async with running(corefile(port, tmp_path)):
        for tcp in (False, True):
            reply = await ask(port, "WWW.example.org", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.flags & dns.flags.AA
            assert lines(reply.answer) == [
                "www.example.org. 300 CNAME host.example.org.",
                "host.example.org. 300 A 192.0.2.80",
            ]
            assert lines(reply.authority) == ["example.org. 300 NS ns1.example.org."]

        nx = await ask(port, "nope.example.org")
        assert nx.rcode() == dns.rcode.NXDOMAIN
        assert [rrs.rdtype for rrs in nx.authority] == [dns.rdatatype.SOA]

        referral = await ask(port, "a.sub.example.org")
        assert not referral.flags & dns.flags.AA
        assert lines(referral.authority) == ["sub.example.org. 300 NS ns.sub.example.org."]
        assert lines(referral.additional) == ["ns.sub.example.org. 300 A 192.0.2.200"]

        wild = await ask(port, "x.wild.example.org")
        assert lines(wild.answer) == ["x.wild.example.org. 300 A 192.0.2.99"]

        # a CNAME to a name of the other block is resolved through the server
        out = await ask(port, "out.example.org")
        assert lines(out.answer) == [
            "out.example.org. 300 CNAME www.example.net.",
            "www.example.net. 3600 A 198.51.100.1",
        ]

        # AXFR over TCP with dnspython's client; UDP is refused by transfer
        xfr = await asyncio.to_thread(
            lambda: dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "example.org", port=port))
        )
        assert sorted(str(n) for n in xfr.nodes) == [
            "*.wild", "@", "host", "ns.sub", "ns1", "out", "sub", "www"]  # fmt: skip
        assert xfr.get_soa().serial == 1
        udp = await ask(port, "example.org", "AXFR")
        assert udp.rcode() == dns.rcode.REFUSED

        # IXFR from an up-to-date client: the SOA alone
        ixfr = await asyncio.to_thread(
            lambda: list(
                dns.query.xfr("127.0.0.1", "example.org", "IXFR", port=port, serial=1, timeout=3)
            )
        )
        assert [len(m.answer) for m in ixfr] == [1]

        # reload: same serial keeps the old data; a new serial is served within the interval
        db.write_text(ZONE.format(serial=1, address="192.0.2.81"))
        await asyncio.sleep(0.3)
        assert lines((await ask(port, "host.example.org")).answer) == [
            "host.example.org. 300 A 192.0.2.80"
        ]
        db.write_text(ZONE.format(serial=2, address="192.0.2.82"))
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            got = lines((await ask(port, "host.example.org")).answer)
            if got == ["host.example.org. 300 A 192.0.2.82"]:
                break
            await asyncio.sleep(0.05)
        assert got == ["host.example.org. 300 A 192.0.2.82"]
