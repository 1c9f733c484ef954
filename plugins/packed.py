"""Replies kept as bytes: a hit is a byte copy with a few patches, never a dnslib pack.

An Entry keeps a packed reply (without OPT: EDNS is hop-by-hop and the writer adds the
client's own), the offset of every record's TTL field, and what a hit needs to tailor the
header: copy the bytes, write the client's ID and flags, copy the client's question name over
the stored one (same length, so only its case can differ), and write the TTL left at each
offset. The cache keeps its hits this way, the kubernetes plugin its ready answers.
"""

from __future__ import annotations

import string
import struct
from typing import TYPE_CHECKING

import dnslib
from dnslib.label import DNSBuffer, DNSLabel

from kdns.plugins.wire import OPT_DO, OPT_PLAIN, client_size, ttl_offsets

if TYPE_CHECKING:
    from kdns.plugins.base import Fresh

_LETTERS = frozenset(string.ascii_letters.encode())


#: The time of an entry's last hit before its first.
_NEVER = float("-inf")


class Entry:
    """One cached reply, ready to be served as bytes."""

    __slots__ = (
        "ad",
        "arcount",
        "gone",
        "hits",
        "kind",
        "last",
        "locked",
        "offsets",
        "qend",
        "rcode",
        "source",
        "stored",
        "ttl",
        "wire",
    )

    def __init__(
        self,
        wire: bytes,
        offsets: tuple[int, ...],
        qend: int,
        *,
        ttl: int,
        stored: float,
        kind: str,
        ad: bool,
        locked: bool,
    ) -> None:
        self.wire = wire
        self.offsets = offsets
        self.qend = qend
        self.arcount = (wire[10] << 8) | wire[11]
        self.rcode = wire[3] & 0xF
        #: The TTL the item was stored with (the capped TTL the miss was answered with).
        self.ttl = ttl
        self.stored = stored
        #: "success" or "denial": the bucket, and the `type` label of the metrics.
        self.kind = kind
        #: The AD bit as the answering plugin set it (a hit clears it for non-DNSSEC clients).
        self.ad = ad
        #: True when names in the reply share labels with the question, case aside: copying a
        #: client's differently-cased question over the stored one would change those names
        #: (compression) or their compression, so such hits keep the stored question bytes.
        self.locked = locked
        #: Prefetch frequency: hits within the prefetch duration of each other, and the last.
        self.hits = 0
        self.last = _NEVER
        #: Set once the cache has dropped or replaced the entry (a hit kept hot then ends).
        self.gone = False
        #: For an entry filled on the fast path: how long the answer behind it stays the same
        #: (a kubernetes ready answer until a watch event alters it). Once the entry expires,
        #: a refill would store these same bytes, so while `source` is fresh the entry is
        #: renewed in place instead (Cache.lookup).
        self.source: Fresh | None = None

    def remaining(self, now: float) -> int:
        """Return the whole seconds of TTL left at `now` (zero or less once expired)."""
        return self.ttl - int(now - self.stored)

    def fit(self, wire: bytes, do: bool, tcp: bool) -> tuple[bytes, bytes] | None:
        """Return a raw query's question name and the OPT record its reply takes, or None
        when this entry cannot answer it from bytes: a question case it cannot echo (locked)
        or a reply larger than the client takes (the chain truncates it)."""
        qend = self.qend
        qname = wire[12:qend]
        if self.locked and qname != self.wire[12:qend]:
            return None
        limit, edns = client_size(wire, qend - 12, tcp)
        if len(self.wire) + (11 if edns else 0) > limit:
            return None
        return qname, ((OPT_DO if do else OPT_PLAIN) if edns else b"")

    def render(
        self, ident: bytes, flags: int, qname: bytes | None, ttl: int, opt: bytes, do: bool
    ) -> bytes:
        """Return the reply for a client: its ID, RD/CD/opcode and question case; `ttl` on every RR.

        `flags` is the client's 16-bit flags word; `qname` its question name in wire format (or
        None to keep the stored one); `opt` the OPT record bytes to append (may be empty).
        """
        wire = self.wire
        buf = bytearray(wire)
        buf[0:2] = ident
        # byte 2: QR opcode(4) AA TC RD - opcode and RD are the client's, as SetReply copies them
        buf[2] = (wire[2] & 0x86) | ((flags >> 8) & 0x79)
        # byte 3: RA Z AD CD rcode(4) - CD is the client's; AD only for DNSSEC-aware clients
        ad = 0x20 if self.ad and (do or flags & 0x20) else 0
        buf[3] = (wire[3] & 0xCF) | (flags & 0x10) | ad
        if qname is not None:
            buf[12 : self.qend] = qname
        packed = ttl.to_bytes(4, "big")
        for off in self.offsets:
            buf[off : off + 4] = packed
        if opt:
            struct.pack_into("!H", buf, 10, self.arcount + 1)
            buf += opt
        return bytes(buf)


class _NameBuffer(DNSBuffer):  # type: ignore[misc]
    """A dnslib buffer that also records every name it compresses, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bytes, ...]] = []

    def encode_name(self, name: DNSLabel | str) -> None:
        label = name if isinstance(name, DNSLabel) else DNSLabel(name)
        self.seen.append(tuple(label.label))
        super().encode_name(label)


def pack(reply: dnslib.DNSRecord) -> tuple[bytes, bool]:
    """Pack a reply exactly as DNSRecord.pack does; also tell whether its question is locked.

    Locked: the question name has letters and some other name compressed in the message
    shares a suffix with it, ignoring case (see Entry.locked).
    """
    reply.set_header_qa()
    buf = _NameBuffer()
    reply.header.pack(buf)
    for q in reply.questions:
        q.pack(buf)
    for section in (reply.rr, reply.auth, reply.ar):
        for rr in section:
            rr.pack(buf)
    wire = bytes(buf.data)
    if not reply.questions or not buf.seen:
        return wire, False
    question = buf.seen[0]
    if not any(_LETTERS.intersection(label) for label in question):
        return wire, False  # no letters: every client writes it the same
    # two names share a suffix of one label or more exactly when their last labels match
    last = question[-1].lower() if question else None
    for seen in buf.seen[1:]:
        if seen and seen[-1].lower() == last:
            return wire, True
    return wire, False


def make_entry(reply: dnslib.DNSRecord, *, ttl: int, stored: float, kind: str, ad: bool) -> Entry:
    """Pack `reply` (TTLs already capped, no OPT) into an entry; ValueError if it cannot be."""
    try:
        wire, locked = pack(reply)
    except Exception as exc:  # dnslib raises assorted errors for records it cannot pack
        raise ValueError(f"cannot pack reply: {exc}") from exc
    offsets, qend = ttl_offsets(wire)
    return Entry(wire, offsets, qend, ttl=ttl, stored=stored, kind=kind, ad=ad, locked=locked)
