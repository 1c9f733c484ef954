"""Reading raw DNS messages without dnslib, for the bytes-in/bytes-out fast path.

Two readers live here: `query_key` takes a client's query apart just far enough to find its
cache key, and `ttl_offsets` walks a packed reply once, at store time, to find where every
record's TTL sits so a hit can rewrite TTLs in place.
"""

from __future__ import annotations

import struct
from typing import Final

import dnslib

from kdns.plugins.base import EDNS_SIZE

#: lower-case qname in wire label format, qtype, qclass, DO bit, CD bit.
Key = tuple[bytes, int, int, bool, bool]

OPT: Final = 41
SOA: Final = 6
HEADER: Final = 12
#: The OPT record the runtime writer appends for an EDNS client when the reply has none:
#: root owner, type OPT, class = our UDP size, TTL = extended rcode 0, version 0, flags.
OPT_PLAIN: Final = b"\x00" + struct.pack("!HHIH", OPT, EDNS_SIZE, 0, 0)
OPT_DO: Final = b"\x00" + struct.pack("!HHIH", OPT, EDNS_SIZE, 0x8000, 0)
#: Flags a query on the fast path must not have: QR (it is a response) and any opcode.
_NOT_A_QUERY: Final = 0xF8
#: The counts of a plain query: one question, no answer, no authority (arcount follows).
_ONE_QUESTION: Final = b"\x00\x01\x00\x00\x00\x00"


def packed(record: dnslib.DNSRecord) -> bytes:
    """`record` on the wire, as bytes: dnslib packs into a bytearray, which the compiled
    modules (setup.py) refuse where bytes are declared."""
    return bytes(record.pack())


def query_key(wire: bytes) -> Key | None:
    """Return the cache key of a raw query, or None when it is anything but a plain query.

    Plain means: a query (QR clear, opcode QUERY), exactly one question whose name is written
    without compression, no answer or authority records, and at most one additional record
    which must be an EDNS0 version 0 OPT ending the message. Everything else (and anything
    malformed) is left to the normal path, which knows the right error to give.
    """
    n = len(wire)
    if n < HEADER + 5 or wire[2] & _NOT_A_QUERY or wire[4:10] != _ONE_QUESTION:
        return None
    if wire[10] or wire[11] > 1 or wire[3] & 0x40:  # the Z bit: the normal path says FORMERR
        return None
    i = HEADER
    while True:
        if i >= n:
            return None
        length = wire[i]
        if length == 0:
            break
        if length > 63:  # a compression pointer or a reserved label type
            return None
        i += length + 1
    end = i + 1
    if end - HEADER > 255 or end + 4 > n:
        return None
    qtype = (wire[end] << 8) | wire[end + 1]
    qclass = (wire[end + 2] << 8) | wire[end + 3]
    pos = end + 4
    do = False
    if wire[11]:
        # root owner, type OPT, then class (UDP size), TTL (ext rcode, version, flags), rdlen
        if pos + 11 > n or wire[pos] != 0 or wire[pos + 1] != 0 or wire[pos + 2] != OPT:
            return None
        if wire[pos + 6]:  # EDNS version > 0: the normal path answers BADVERS
            return None
        if pos + 11 + ((wire[pos + 9] << 8) | wire[pos + 10]) != n:
            return None
        do = bool(wire[pos + 7] & 0x80)
    elif pos != n:
        return None
    return (wire[HEADER:end].lower(), qtype, qclass, do, bool(wire[3] & 0x10))


def client_size(wire: bytes, qname_len: int, tcp: bool = False) -> tuple[int, bool]:
    """Return the largest reply a client takes and whether it sent EDNS0, for a plain query.

    `wire` must have passed `query_key`; `qname_len` is the length of its question name.
    """
    if not wire[11]:
        return (65535 if tcp else 512), False
    if tcp:
        return 65535, True
    pos = HEADER + qname_len + 4
    return max(512, (wire[pos + 3] << 8) | wire[pos + 4]), True


def name_wire(labels: tuple[bytes, ...]) -> bytes:
    """Return a name's labels in wire format (length-prefixed, root-terminated)."""
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"


def skip_name(wire: bytes, i: int) -> int:
    """Return the offset just past the (possibly compressed) name starting at `i`."""
    while True:
        length = wire[i]
        if length == 0:
            return i + 1
        if length & 0xC0 == 0xC0:
            return i + 2
        if length & 0xC0:
            raise ValueError(f"reserved label type at offset {i}")
        i += length + 1


#: One record of a packed message: where it starts, where its TYPE field is, where it ends,
#: and its type.
Record = tuple[int, int, int, int]


def records(wire: bytes) -> tuple[int, list[list[Record]]]:
    """Return where the first question's name ends, and the records of the answer, authority
    and additional sections.

    Raises ValueError for a message that does not walk cleanly to its end.
    """
    if len(wire) < HEADER:
        raise ValueError("message shorter than a header")
    qd, an, ns, ar = struct.unpack_from("!HHHH", wire, 4)
    i = HEADER
    qend = HEADER
    sections: list[list[Record]] = []
    try:
        for q in range(qd):
            i = skip_name(wire, i)
            if q == 0:
                qend = i
            i += 4
        for count in (an, ns, ar):
            section: list[Record] = []
            for _ in range(count):
                fixed = skip_name(wire, i)
                rtype, _, _, rdlen = struct.unpack_from("!HHIH", wire, fixed)
                end = fixed + 10 + rdlen
                section.append((i, fixed, end, rtype))
                i = end
            sections.append(section)
    except (IndexError, struct.error) as exc:
        raise ValueError("message ends inside a record") from exc
    if i != len(wire):
        raise ValueError("trailing bytes after the last record")
    return qend, sections


def ttl_offsets(wire: bytes) -> tuple[tuple[int, ...], int]:
    """Return the offsets of every non-OPT record's TTL field, and where the first qname ends.

    Raises ValueError for a message that does not walk cleanly to its end.
    """
    qend, sections = records(wire)
    offsets = (fixed + 4 for section in sections for _, fixed, _, t in section if t != OPT)
    return tuple(offsets), qend


def soa_serial_offset(wire: bytes) -> int:
    """Return the offset of the SERIAL field of the first SOA record of a reply, else 0.

    Raises ValueError for a message that does not walk cleanly.
    """
    for section in records(wire)[1]:
        for _, fixed, _, rtype in section:
            if rtype == SOA:
                return skip_name(wire, skip_name(wire, fixed + 10))
    return 0
