"""file: reading master files (directives, inheritance, escapes, errors with file:line) and the
zone index (transfer order, records outside the zone, the SOA requirement)."""

from __future__ import annotations

from pathlib import Path

import dnslib
import pytest

from kdns.plugins.file.zone import Zone
from kdns.plugins.file.zonefile import Reader, ZoneFileError, parse_ttl

ORG = (b"example", b"org")


def read(text: str, origin: tuple[bytes, ...] = ORG) -> list[str]:
    """Return the records of zone text as `owner ttl class type rdata` lines."""
    out = []
    for rr in Reader(origin).read_text(text, "db.test"):
        rtype = dnslib.QTYPE.forward.get(rr.rtype, f"TYPE{rr.rtype}")
        out.append(f"{rr.rname} {rr.ttl} {dnslib.CLASS.get(rr.rclass)} {rtype} {rr.rdata}")
    return out


SOA = "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n"

PARSED = [
    # relative names, @, and the origin appended
    (SOA + "www A 192.0.2.1", ["www.example.org. 3600 IN A 192.0.2.1"]),
    (SOA + "@ MX 10 mail", ["example.org. 3600 IN MX 10 mail.example.org."]),
    (SOA + "abs.example.com. NS ns.example.com.", ["abs.example.com. 3600 IN NS ns.example.com."]),
    # $ORIGIN changes what relative names mean, relative itself to the previous origin
    (SOA + "$ORIGIN sub\nx A 10.0.0.1", ["x.sub.example.org. 3600 IN A 10.0.0.1"]),
    (SOA + "$ORIGIN other.net.\ny A 10.0.0.2", ["y.other.net. 3600 IN A 10.0.0.2"]),
    # $TTL is the default; without it the last TTL written is (then 3600)
    ("$TTL 1h\n" + SOA + "a 60 A 10.0.0.1\nb A 10.0.0.2", [
        "a.example.org. 60 IN A 10.0.0.1", "b.example.org. 3600 IN A 10.0.0.2"]),
    (SOA + "a 60 A 10.0.0.1\nb A 10.0.0.2", [
        "a.example.org. 60 IN A 10.0.0.1", "b.example.org. 60 IN A 10.0.0.2"]),
    (SOA + "a 1h30m A 10.0.0.1", ["a.example.org. 5400 IN A 10.0.0.1"]),
    (SOA + "a 1W A 10.0.0.1", ["a.example.org. 604800 IN A 10.0.0.1"]),
    # omitted owner: the previous one; class and TTL in either order
    (SOA + "a A 10.0.0.1\n  IN 30 AAAA ::1\n\t30 IN TXT x", [
        "a.example.org. 3600 IN A 10.0.0.1",
        "a.example.org. 30 IN AAAA ::1",
        "a.example.org. 30 IN TXT \"x\""]),
    # parentheses join lines, comments anywhere
    ("@ SOA ns1 hm ( ; comment\n 7 ; serial\n 1h 1h 1w 1h ) ; end\n", [
        "example.org. 3600 IN SOA ns1.example.org. hm.example.org. 7 3600 3600 604800 3600"]),
    # the common types
    (SOA + "s SRV 0 5 5060 sip", ["s.example.org. 3600 IN SRV 0 5 5060 sip.example.org."]),
    (SOA + "c CNAME target", ["c.example.org. 3600 IN CNAME target.example.org."]),
    (SOA + "p PTR host.", ["p.example.org. 3600 IN PTR host."]),
    (SOA + 'c CAA 0 issue "letsencrypt.org"', [
        'c.example.org. 3600 IN CAA 0 issue "letsencrypt.org"']),
    (SOA + "d DNAME example.net.", ["d.example.org. 3600 IN DNAME example.net."]),
    (SOA + "d DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118", [
        "d.example.org. 3600 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"]),
    (SOA + "n NSEC z A RRSIG NSEC", ["n.example.org. 3600 IN NSEC z.example.org. A RRSIG NSEC"]),
    (SOA + "k DNSKEY 256 3 8 AwEAAQ==", ["k.example.org. 3600 IN DNSKEY 256 3 8 AwEAAQ=="]),
    (SOA + "r RRSIG A 8 3 300 20300101000000 20200101000000 1 example.org. AAAA", [
        "r.example.org. 3600 IN RRSIG A 8 3 300 20300101000000 20200101000000 1 example.org. "
        "AAAA"]),
    # RFC 3597 for a type with no presentation format here
    (SOA + "u TYPE65534 \\# 3 010203", ["u.example.org. 3600 IN TYPE65534 \\# 3 010203"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parse(text: str, expected: list[str]) -> None:
    assert read(text)[-len(expected) :] == expected


def test_txt_strings_and_escapes() -> None:
    """Quoted strings with escapes, several strings, unquoted words, a semicolon kept."""
    text = SOA + 't TXT "a \\"q\\" b" "\\065\\066;" plain\nu TXT ( "one"\n "two" )\n'
    records = Reader(ORG).read_text(text, "db.test")
    assert [rr.rdata.data for rr in records[1:]] == [
        [b'a "q" b', b"AB;", b"plain"],
        [b"one", b"two"],
    ]


def test_escaped_dot_stays_inside_its_label() -> None:
    records = Reader(ORG).read_text(SOA + "has\\.dot A 10.0.0.1\n", "db.test")
    assert records[1].rname.label == (b"has.dot", b"example", b"org")


ERRORS = [
    ("@ SOA ns1 hm 1 2 3 4\n", 1, "SOA needs 7 fields"),
    (SOA + "\nwww A 300.1.1.1\n", 3, "300.1.1.1"),
    (SOA + "www BOGUS x\n", 2, "unknown record type 'BOGUS'"),
    (SOA + "www MX ten mail\n", 2, "'ten' is not a 16-bit number"),
    (SOA + "www ( A\n 10.0.0.1\n", 2, "'(' is never closed"),
    (SOA + 'www TXT "open\n', 2, "unterminated quoted string"),
    (SOA + "www A 10.0.0.1 )\n", 2, "')' without '('"),
    (SOA + "$GENERATE 1-4 host$ A 10.0.0.$\n", 2, "$GENERATE is not supported"),
    (SOA + "$INCLUDE missing.db\n", 2, "No such file"),
    ("  A 10.0.0.1\n", 1, "without an owner"),
    (SOA + "a..b A 10.0.0.1\n", 2, "empty label"),
    (SOA + "t TXT " + "x" * 256 + "\n", 2, "too long"),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ZoneFileError) as info:
        Reader(ORG).read_text(text, "db.test")
    assert str(info.value).startswith(f"db.test:{line}: ")
    assert message in str(info.value)


def test_include_is_relative_to_the_including_file_and_takes_an_origin(tmp_path: Path) -> None:
    (tmp_path / "hosts.inc").write_text("host A 10.0.0.1\n")
    (tmp_path / "bad.inc").write_text("ok A 10.0.0.1\nbroken A nope\n")
    main = tmp_path / "db"
    main.write_text(f"$TTL 60\n{SOA}$INCLUDE hosts.inc\n$INCLUDE hosts.inc lab\nafter A 10.0.0.9\n")
    records = [(str(rr.rname), rr.ttl) for rr in Reader(ORG).read(str(main))]
    assert records[1:] == [
        ("host.example.org.", 60),
        ("host.lab.example.org.", 60),
        ("after.example.org.", 60),  # the include's origin does not leak out
    ]
    main.write_text(f"{SOA}$INCLUDE bad.inc\n")
    with pytest.raises(ZoneFileError, match=r"bad\.inc:2: "):
        Reader(ORG).read(str(main))


def test_ttl_units() -> None:
    assert [parse_ttl(t) for t in ("0", "30", "1m", "2h", "1d", "1w2d", "1H1M1S")] == [
        0, 30, 60, 7200, 86400, 777600, 3661]  # fmt: skip
    with pytest.raises(ValueError, match="'1x' is not a TTL"):
        parse_ttl("1x")


def zone(text: str) -> Zone:
    return Zone(ORG, Reader(ORG).read_text(text, "db.test"), "db.test")


def test_zone_needs_an_soa_at_the_apex_and_drops_records_outside_it() -> None:
    with pytest.raises(ValueError, match=r"no SOA record for origin example\.org\."):
        zone("www A 10.0.0.1\n")
    z = zone(SOA + "www A 10.0.0.1\nstray.example.com. A 10.0.0.2\n")
    assert z.count == 2
    assert (b"stray", b"example", b"com") not in z.nodes
    # names are stored lower-case, rdata names CoreDNS lower-cases too
    z = zone(SOA + "WWW CNAME Target\n")
    assert list(z.nodes) == [ORG, (b"www", *ORG)]
    assert str(z.nodes[(b"www", *ORG)][5][0].rdata) == "target.example.org."


def test_transfer_order_and_ixfr_up_to_date() -> None:
    z = zone(SOA + "@ NS ns1\n@ A 10.0.0.1\nb A 10.0.0.3\na.b A 10.0.0.4\na A 10.0.0.2\n")
    names = [(str(rr.rname), dnslib.QTYPE.get(rr.rtype)) for rr in z.transfer()]
    assert names == [
        ("example.org.", "SOA"),
        ("example.org.", "NS"),
        ("example.org.", "A"),
        ("a.example.org.", "A"),
        ("b.example.org.", "A"),
        ("a.b.example.org.", "A"),
        ("example.org.", "SOA"),
    ]
    assert [dnslib.QTYPE.get(rr.rtype) for rr in z.transfer(serial=1)] == ["SOA"]
    assert len(z.transfer(serial=0)) == 7
