"""file handler: answers as CoreDNS's file plugin gives them (AA, authority, additional,
referrals, wildcards, CNAME chains, DNAME, DNSSEC data with DO), fallthrough, root, reload,
and transfers through the transfer plugin."""

from __future__ import annotations

import os
from pathlib import Path

import dnslib
import pytest
import structlog.testing

from kdns.plugins.base import NOERROR, NXDOMAIN, REFUSED, SERVFAIL, BuildContext, PluginError
from kdns.plugins.file import File
from kdns.plugins.testing import StubHandler, build, load_text, make_request, run

ZONE = """\
$TTL 3600
$ORIGIN example.org.
@   IN SOA ns1.example.org. hostmaster.example.org. (
        2017042745 ; serial
        7200 3600 1209600 3600 )
    IN NS  ns1
    IN NS  ns2.example.net.
    IN MX  10 mail
    IN A   192.0.2.1
ns1        IN A     192.0.2.53
mail  300  IN A     192.0.2.25
           IN AAAA  2001:db8::25
www        IN CNAME web
web        IN CNAME host
host       IN A     192.0.2.80
           IN AAAA  2001:db8::80
ext        IN CNAME www.example.net.
toent      IN CNAME b.ent
tonx       IN CNAME missing
*.wild     IN A     192.0.2.99
           IN TXT   "wildcard"
*.cwild    IN CNAME host
a.b.ent    IN A     192.0.2.7
srv._tcp   IN SRV   0 5 80 host
sub        IN NS    ns.sub
           IN NS    ns.example.net.
           IN DS    60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118
ns.sub     IN A     192.0.2.200
dname      IN DNAME example.net.
txt        IN TXT   "v=spf1 a mx ~all"
"""

SOA = (
    "example.org. 3600 SOA ns1.example.org. hostmaster.example.org. "
    "2017042745 7200 3600 1209600 3600"
)
APEX_NS = ["example.org. 3600 NS ns1.example.org.", "example.org. 3600 NS ns2.example.net."]
Row = list[str]


def rows(rrs: list[dnslib.RR]) -> Row:
    return [
        f"{rr.rname} {rr.ttl} {dnslib.QTYPE.forward.get(rr.rtype, rr.rtype)} {rr.rdata}".rstrip()
        for rr in rrs
    ]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db.example.org"
    path.write_text(ZONE)
    return path


async def started(text: str, nxt: StubHandler | None = None) -> File:
    handler = build(text, nxt or StubHandler())
    assert isinstance(handler, File)
    await handler.start()
    return handler


CASES: list[tuple[str, str, int, bool, Row, Row, Row]] = [
    # (name, type, rcode, aa, answer, authority, additional)
    ("example.org", "SOA", NOERROR, True, [SOA], APEX_NS, []),
    ("example.org", "NS", NOERROR, True, APEX_NS, [], ["ns1.example.org. 3600 A 192.0.2.53"]),
    ("Example.ORG", "A", NOERROR, True, ["example.org. 3600 A 192.0.2.1"], APEX_NS, []),
    ("example.org", "MX", NOERROR, True, ["example.org. 3600 MX 10 mail.example.org."], APEX_NS,
     ["mail.example.org. 300 A 192.0.2.25", "mail.example.org. 3600 AAAA 2001:db8::25"]),
    ("srv._tcp.example.org", "SRV", NOERROR, True,
     ["srv._tcp.example.org. 3600 SRV 0 5 80 host.example.org."], APEX_NS,
     ["host.example.org. 3600 A 192.0.2.80", "host.example.org. 3600 AAAA 2001:db8::80"]),
    ("txt.example.org", "TXT", NOERROR, True, ['txt.example.org. 3600 TXT "v=spf1 a mx ~all"'],
     APEX_NS, []),
    # NODATA and NXDOMAIN: the SOA in authority
    ("host.example.org", "MX", NOERROR, True, [], [SOA], []),
    ("nope.example.org", "A", NXDOMAIN, True, [], [SOA], []),
    ("deep.nope.example.org", "A", NXDOMAIN, True, [], [SOA], []),
    # an empty non-terminal exists: NODATA
    ("b.ent.example.org", "A", NOERROR, True, [], [SOA], []),
    ("ent.example.org", "A", NOERROR, True, [], [SOA], []),
    # CNAME chain inside the zone, and the CNAME asked for itself
    ("www.example.org", "A", NOERROR, True,
     ["www.example.org. 3600 CNAME web.example.org.",
      "web.example.org. 3600 CNAME host.example.org.",
      "host.example.org. 3600 A 192.0.2.80"], APEX_NS, []),
    ("www.example.org", "CNAME", NOERROR, True,
     ["www.example.org. 3600 CNAME web.example.org."], APEX_NS, []),
    # CNAME to outside the zone, no resolver: the CNAME alone
    ("ext.example.org", "A", NOERROR, True, ["ext.example.org. 3600 CNAME www.example.net."],
     APEX_NS, []),
    # CNAME to a missing name in the zone: NXDOMAIN with the CNAME (RFC 6604); to an ENT: NODATA
    ("tonx.example.org", "A", NXDOMAIN, True, ["tonx.example.org. 3600 CNAME missing.example.org."],
     APEX_NS, []),
    ("toent.example.org", "A", NOERROR, True, ["toent.example.org. 3600 CNAME b.ent.example.org."],
     APEX_NS, []),
    # wildcards (RFC 4592): synthesised owner, NODATA on a wildcard, and no match across ENTs
    ("x.wild.example.org", "A", NOERROR, True, ["x.wild.example.org. 3600 A 192.0.2.99"],
     APEX_NS, []),
    ("x.wild.example.org", "TXT", NOERROR, True, ['x.wild.example.org. 3600 TXT "wildcard"'],
     APEX_NS, []),
    ("x.wild.example.org", "MX", NOERROR, True, [], [SOA], []),
    # the closest encloser of a.x.wild is wild: its `*` child matches more than one label
    ("a.x.wild.example.org", "A", NOERROR, True, ["a.x.wild.example.org. 3600 A 192.0.2.99"],
     APEX_NS, []),
    # ... but not below a name that exists: a.b.ent's encloser b.ent has no `*` child
    ("x.b.ent.example.org", "A", NXDOMAIN, True, [], [SOA], []),
    ("y.cwild.example.org", "AAAA", NOERROR, True,
     ["y.cwild.example.org. 3600 CNAME host.example.org.",
      "host.example.org. 3600 AAAA 2001:db8::80"],
     APEX_NS, []),
    ("wild.example.org", "A", NOERROR, True, [], [SOA], []),
    # delegation: referral without AA, glue in bailiwick only; DS at the cut from the parent
    ("a.sub.example.org", "A", NOERROR, False, [],
     ["sub.example.org. 3600 NS ns.sub.example.org.", "sub.example.org. 3600 NS ns.example.net."],
     ["ns.sub.example.org. 3600 A 192.0.2.200"]),
    ("sub.example.org", "NS", NOERROR, False, [],
     ["sub.example.org. 3600 NS ns.sub.example.org.", "sub.example.org. 3600 NS ns.example.net."],
     ["ns.sub.example.org. 3600 A 192.0.2.200"]),
    ("sub.example.org", "DS", NOERROR, True,
     ["sub.example.org. 3600 DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"], APEX_NS, []),
    # DNAME: the DNAME and the synthesised CNAME
    ("foo.dname.example.org", "A", NOERROR, True,
     ["dname.example.org. 3600 DNAME \\# 13 076578616D706C65036E657400",
      "foo.dname.example.org. 3600 CNAME foo.example.net."], APEX_NS, []),
]  # fmt: skip


@pytest.mark.parametrize(("name", "qtype", "rcode", "aa", "answer", "ns", "extra"), CASES)
async def test_answers(
    db: Path, name: str, qtype: str, rcode: int, aa: bool, answer: Row, ns: Row, extra: Row
) -> None:
    handler = await started(f"file {db}")
    got, w = await run(handler, make_request(name, qtype))
    reply = w.reply
    assert (got, reply.header.rcode, bool(reply.header.aa)) == (rcode, rcode, aa)
    assert rows(reply.rr) == answer
    assert rows(reply.auth) == ns
    assert rows(reply.ar) == extra


async def test_names_outside_the_zones_go_to_the_next_plugin(db: Path) -> None:
    nxt = StubHandler()
    handler = await started(f"file {db} example.org", nxt)
    rcode, w = await run(handler, make_request("example.net", "A"))
    assert (rcode, len(nxt.calls)) == (NOERROR, 1)
    # a transfer that reaches file (no transfer plugin) is refused, nothing written
    rcode, w = await run(handler, make_request("example.org", "AXFR", proto="tcp"))
    assert (rcode, w.replies) == (REFUSED, [])


async def test_fallthrough_passes_nxdomain_only(db: Path) -> None:
    nxt = StubHandler()
    handler = await started(f"file {db} {{\nfallthrough\n}}", nxt)
    await run(handler, make_request("nope.example.org"))
    assert len(nxt.calls) == 1
    rcode, w = await run(handler, make_request("host.example.org", "MX"))
    assert (rcode, len(nxt.calls), rows(w.reply.auth)) == (NOERROR, 1, [SOA])


async def test_external_cname_target_is_resolved_through_the_server(db: Path) -> None:
    handler = await started(f"file {db}")
    asked: list[tuple[str, int]] = []

    async def resolve(name: str, qtype: int) -> dnslib.DNSRecord:
        asked.append((name, qtype))
        reply = dnslib.DNSRecord.question(name).reply()
        if name == "www.example.net.":
            reply.add_answer(*dnslib.RR.fromZone("www.example.net. 60 A 198.51.100.1"))
        else:
            reply.header.rcode = NXDOMAIN
        return reply

    handler.resolve = resolve
    _, w = await run(handler, make_request("ext.example.org"))
    assert rows(w.reply.rr) == [
        "ext.example.org. 3600 CNAME www.example.net.",
        "www.example.net. 60 A 198.51.100.1",
    ]
    assert asked == [("www.example.net.", 1)]
    # the target's NXDOMAIN is the reply's rcode (RFC 6604); a DNAME target is resolved too
    _, w = await run(handler, make_request("foo.dname.example.org"))
    assert w.reply.header.rcode == NXDOMAIN
    assert len(w.reply.rr) == 2


DNSSEC_ZONE = """\
$ORIGIN example.org.
@ 300 SOA ns1 hm 1 7200 3600 1209600 300
  300 RRSIG SOA 13 2 300 20300101000000 20200101000000 7 example.org. AAAA
  300 NS ns1
  300 RRSIG NS 13 2 300 20300101000000 20200101000000 7 example.org. AAAB
  300 NSEC a A NS SOA RRSIG NSEC
  300 RRSIG NSEC 13 2 300 20300101000000 20200101000000 7 example.org. AAAC
  300 DNSKEY 257 3 13 AwEAAQ==
a 300 A 192.0.2.1
  300 RRSIG A 13 3 300 20300101000000 20200101000000 7 example.org. AAAD
  300 NSEC ns1 A RRSIG NSEC
  300 RRSIG NSEC 13 3 300 20300101000000 20200101000000 7 example.org. AAAE
ns1 300 A 192.0.2.53
  300 NSEC example.org. A RRSIG NSEC
"""


async def test_dnssec_records_are_data_with_do(tmp_path: Path) -> None:
    path = tmp_path / "db.signed"
    path.write_text(DNSSEC_ZONE)
    handler = await started(f"file {path}")
    _, w = await run(handler, make_request("a.example.org", "A"))
    assert [dnslib.QTYPE[rr.rtype] for rr in w.reply.rr] == ["A"]
    assert [dnslib.QTYPE[rr.rtype] for rr in w.reply.auth] == ["NS"]
    _, w = await run(handler, make_request("a.example.org", "A", do=True))
    assert [dnslib.QTYPE[rr.rtype] for rr in w.reply.rr] == ["A", "RRSIG"]
    assert [dnslib.QTYPE[rr.rtype] for rr in w.reply.auth] == ["NS", "RRSIG"]
    # NODATA with DO: the SOA, its signature, the name's NSEC and its signature
    _, w = await run(handler, make_request("a.example.org", "MX", do=True))
    assert [dnslib.QTYPE[rr.rtype] for rr in w.reply.auth] == ["SOA", "RRSIG", "NSEC", "RRSIG"]
    # NXDOMAIN with DO: the NSEC covering the name (b sorts after a)
    _, w = await run(handler, make_request("b.example.org", "A", do=True))
    assert w.reply.header.rcode == NXDOMAIN
    nsecs = [str(rr.rname) for rr in w.reply.auth if rr.rtype == 47]
    assert nsecs[0] == "a.example.org."
    # DNSKEY asked for is plain data
    _, w = await run(handler, make_request("example.org", "DNSKEY"))
    assert [dnslib.QTYPE[rr.rtype] for rr in w.reply.rr] == ["DNSKEY"]


async def test_root_sets_the_directory_of_relative_paths(tmp_path: Path, db: Path) -> None:
    model = load_text(f"example.org {{\n    root {db.parent}\n    file {db.name}\n}}\n")
    block = model.servers[0]
    configs: dict[str, tuple[object, ...]] = {}
    for entry in block.plugins:
        configs[entry.name] = (*configs.get(entry.name, ()), entry.config)
    handler = File(configs["file"], StubHandler(), BuildContext(block.zones, configs))  # type: ignore[arg-type]
    assert handler.slots[(b"example", b"org")].path == str(db)
    await handler.start()
    _, w = await run(handler, make_request("host.example.org"))
    assert rows(w.reply.rr) == ["host.example.org. 3600 A 192.0.2.80"]


async def test_missing_file_is_fatal_only_without_reload(tmp_path: Path) -> None:
    missing = tmp_path / "db.none"
    with pytest.raises(PluginError, match="plugin/file: Failed to open"):
        await started(f"file {missing} {{\nreload 0\n}}")
    with structlog.testing.capture_logs() as logs:
        handler = await started(f"file {missing}")
    await handler.stop()
    assert any("trying again in 60s" in e["event"] for e in logs)
    rcode, w = await run(handler, make_request("example.org", "SOA"))
    assert (rcode, w.replies) == (SERVFAIL, [])
    missing.write_text(ZONE)
    assert await handler.reload(handler.slots[(b"example", b"org")])
    rcode, w = await run(handler, make_request("example.org", "SOA"))
    assert rows(w.reply.rr) == [SOA]


async def test_broken_file_at_start_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "db"
    path.write_text(ZONE + "bad IN A not-an-address\n")
    with pytest.raises(PluginError, match=r"db:31: "):
        await started(f"file {path}")


async def test_reload_follows_the_serial_and_keeps_the_zone_on_errors(db: Path) -> None:
    handler = await started(f"file {db} {{\nreload 0\n}}")
    slot = handler.slots[(b"example", b"org")]
    db.write_text(ZONE.replace("192.0.2.80", "192.0.2.81"))
    assert not await handler.reload(slot)  # same serial: not loaded (CoreDNS checks the serial)
    db.write_text(ZONE.replace("2017042745", "2017042746") + "new IN A 192.0.2.9\n")
    assert await handler.reload(slot)
    _, w = await run(handler, make_request("new.example.org"))
    assert rows(w.reply.rr) == ["new.example.org. 3600 A 192.0.2.9"]
    db.write_text(ZONE.replace("2017042745", "2017042747") + "new IN A broken\n")
    with structlog.testing.capture_logs() as logs:
        assert not await handler.reload(slot)
    assert [e["log_level"] for e in logs] == ["error"]
    assert "Parsing zone example.org." in logs[0]["event"]
    _, w = await run(handler, make_request("new.example.org"))
    assert rows(w.reply.rr) == ["new.example.org. 3600 A 192.0.2.9"]


async def test_reload_by_mtime_reloads_on_a_new_mtime_with_the_same_serial(db: Path) -> None:
    handler = await started(f"file {db} {{\nreload_by_mtime\n}}")
    await handler.stop()
    slot = handler.slots[(b"example", b"org")]
    db.write_text(ZONE.replace("192.0.2.80", "192.0.2.81"))
    os.utime(db, ns=(slot.mtime + 10**9, slot.mtime + 10**9))
    assert await handler.reload(slot)
    _, w = await run(handler, make_request("host.example.org"))
    assert rows(w.reply.rr) == ["host.example.org. 3600 A 192.0.2.81"]


async def test_transfer_plugin_streams_the_zone(db: Path) -> None:
    file = await started(f"file {db}")
    transfer = build("transfer {\nto *\n}", file)
    await transfer.start()  # type: ignore[attr-defined]
    rcode, w = await run(transfer, make_request("example.org", "AXFR", proto="tcp"))
    records = [rr for reply in w.replies for rr in reply.rr]
    assert rcode == NOERROR
    assert rows(records[:1]) == rows(records[-1:]) == [SOA]
    assert len(records) == 26 + 1  # every record of the file, and the SOA again
    assert "ns.sub.example.org. 3600 A 192.0.2.200" in rows(records)
    assert file.transfer("example.net.") is None
