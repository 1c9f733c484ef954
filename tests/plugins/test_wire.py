"""cache wire readers: the query key from raw bytes, TTL offsets, packing and the shards."""

from __future__ import annotations

import struct

import dnslib
import pytest

from kdns.plugins.cache.store import Shards
from kdns.plugins.packed import Entry, make_entry, pack
from kdns.plugins.wire import client_size, query_key, ttl_offsets

HEADER_Q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
EXAMPLE = b"\x07example\x03org\x00"


def query(name: str = "example.org", qtype: str = "A", **edns: object) -> bytes:
    msg = dnslib.DNSRecord.question(name, qtype)
    if edns:
        msg.add_ar(dnslib.EDNS0(**edns))  # type: ignore[arg-type]
    return bytes(msg.pack())


def with_flags(wire: bytes, flags: int) -> bytes:
    return wire[:2] + struct.pack("!H", flags) + wire[4:]


def test_plain_query_key_is_lower_case_wire_name_type_class_do_cd() -> None:
    assert query_key(query("Example.ORG", "AAAA")) == (EXAMPLE, 28, 1, False, False)
    assert query_key(query("example.org", flags="do", udp_len=1232)) == (EXAMPLE, 1, 1, True, False)
    assert query_key(query("example.org", udp_len=4096)) == (EXAMPLE, 1, 1, False, False)
    assert query_key(with_flags(query(), 0x0110)) == (EXAMPLE, 1, 1, False, True)
    assert query_key(query(".", "NS")) == (b"\x00", 2, 1, False, False)


UNUSUAL = [
    ("a response", with_flags(query(), 0x8100)),
    ("opcode NOTIFY", with_flags(query(), 0x2100)),
    (
        "two questions",
        HEADER_Q[:4] + b"\x00\x02" + HEADER_Q[6:] + (EXAMPLE + b"\x00\x01\x00\x01") * 2,
    ),
    ("pointer in the question", HEADER_Q + b"\x03www\xc0\x0c\x00\x01\x00\x01"),
    ("reserved label type", HEADER_Q + b"\x43www\x00\x00\x01\x00\x01"),
    ("short question", HEADER_Q + EXAMPLE + b"\x00"),
    ("name runs off the end", HEADER_Q + b"\x07exam"),
    ("trailing bytes", query() + b"\x00"),
    ("EDNS version 1", query(version=1)),
    ("an answer record", HEADER_Q[:6] + b"\x00\x01" + HEADER_Q[8:] + EXAMPLE + b"\x00\x01\x00\x01"),
    ("a non-OPT additional", query()[:11] + b"\x01" + query()[12:] + EXAMPLE + b"\x00\x01\x00\x01"),
    ("OPT with a bad rdlength", query(udp_len=1232)[:-2] + b"\x00\x05"),
    ("just a header", HEADER_Q),
]


@pytest.mark.parametrize(("why", "wire"), UNUSUAL, ids=[u[0] for u in UNUSUAL])
def test_unusual_queries_have_no_key(why: str, wire: bytes) -> None:
    assert query_key(wire) is None, why


def test_client_size_follows_edns_and_transport() -> None:
    assert client_size(query(), len(EXAMPLE)) == (512, False)
    assert client_size(query(udp_len=4096), len(EXAMPLE)) == (4096, True)
    assert client_size(query(udp_len=100), len(EXAMPLE)) == (512, True)
    assert client_size(query(), len(EXAMPLE), tcp=True) == (65535, False)


def big_reply() -> dnslib.DNSRecord:
    reply = dnslib.DNSRecord.question("www.example.org").reply()
    reply.add_answer(*dnslib.RR.fromZone("www.example.org. 300 IN CNAME web.example.org."))
    reply.add_answer(*dnslib.RR.fromZone("web.example.org. 60 IN A 10.0.0.1"))
    reply.add_auth(*dnslib.RR.fromZone("example.org. 3600 IN NS ns1.example.org."))
    reply.add_ar(*dnslib.RR.fromZone("ns1.example.org. 100 IN AAAA 2001:db8::1"))
    reply.add_ar(*dnslib.RR.fromZone('web.example.org. 7 IN TXT "hello"'))
    reply.add_ar(dnslib.EDNS0(udp_len=4096, flags="do"))
    return reply


def test_ttl_offsets_point_at_every_ttl_but_the_opt() -> None:
    wire = bytes(big_reply().pack())
    offsets, qend = ttl_offsets(wire)
    assert qend == 12 + len(b"\x03www\x07example\x03org\x00")
    assert len(offsets) == 5
    buf = bytearray(wire)
    for off in offsets:
        struct.pack_into("!I", buf, off, 4242)
    parsed = dnslib.DNSRecord.parse(bytes(buf))
    assert [rr.ttl for rr in parsed.rr + parsed.auth] == [4242] * 3
    assert [rr.ttl for rr in parsed.ar if rr.rtype != 41] == [4242, 4242]
    assert next(rr for rr in parsed.ar if rr.rtype == 41).ttl == 0x8000  # the DO flag untouched


@pytest.mark.parametrize("cut", [1, 5, 11])
def test_ttl_offsets_reject_truncated_messages(cut: int) -> None:
    wire = bytes(big_reply().pack())
    with pytest.raises(ValueError, match="message"):
        ttl_offsets(wire[:-cut])


def test_ttl_offsets_reject_trailing_bytes() -> None:
    with pytest.raises(ValueError, match="trailing"):
        ttl_offsets(bytes(big_reply().pack()) + b"\x00")


def test_pack_is_dnslib_pack_and_locks_questions_shared_with_records() -> None:
    reply = big_reply()
    wire, locked = pack(reply)
    assert wire == bytes(reply.pack())
    assert locked  # the CNAME owner is the question name
    empty = dnslib.DNSRecord.question("Nothing.example.org").reply()
    empty.add_auth(*dnslib.RR.fromZone("other.test. 60 IN SOA a.test. b.test. 1 2 3 4 5"))
    assert pack(empty)[1] is False  # no name shares a label with the question
    digits = dnslib.DNSRecord.question("4.3.2.1").reply()
    digits.add_answer(*dnslib.RR.fromZone("4.3.2.1. 60 IN A 1.2.3.4"))
    assert pack(digits)[1] is False  # nothing to differ in case


def test_render_patches_id_flags_question_ttl_and_opt() -> None:
    reply = dnslib.DNSRecord.question("Nothing.example.org").reply()  # qr aa rd ra
    reply.header.ad = 1
    entry = make_entry(reply, ttl=30, stored=0.0, kind="success", ad=True)
    assert isinstance(entry, Entry)
    out = entry.render(b"\xbe\xef", 0x0010, b"\x07NOTHING\x07EXAMPLE\x03ORG\x00", 9, b"", False)
    parsed = dnslib.DNSRecord.parse(out)
    assert parsed.header.id == 0xBEEF
    assert (parsed.header.rd, parsed.header.cd, parsed.header.ad) == (0, 1, 0)
    assert (parsed.header.aa, parsed.header.ra, parsed.header.qr) == (1, 1, 1)
    assert str(parsed.q.qname) == "NOTHING.EXAMPLE.ORG."
    dnssec = dnslib.DNSRecord.parse(entry.render(b"\x00\x01", 0x0100, None, 9, b"", True))
    assert dnssec.header.ad == 1
    assert str(dnssec.q.qname) == "Nothing.example.org."


def test_capacity_is_split_over_256_shards_and_full_shards_evict() -> None:
    assert Shards(9984).size == 39
    assert Shards(1024).size == 4
    shards = Shards(1024)
    entry = make_entry(
        dnslib.DNSRecord.question("x.test").reply(), ttl=5, stored=0, kind="success", ad=False
    )
    evicted = sum(shards.add((f"n{i}".encode(), 1, 1, False, False), entry) for i in range(3000))
    assert len(shards) <= 1024
    assert len(shards) + evicted == 3000
    assert len(shards) == sum(1 for _ in shards)
    existing, count = next(iter(shards)), len(shards)
    assert shards.add(existing, entry) is False  # replacing an entry evicts nothing
    assert len(shards) == count
