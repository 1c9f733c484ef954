"""log: formats compiled once into pieces, and the values each placeholder stands for.

A format is split the way CoreDNS's replacer splits it: find each `}`, then the last `{`
before it; a known placeholder becomes a value function, `{/LABEL}` a metadata lookup, and
anything else (unknown placeholders included) stays literal text.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import dnslib

from kdns.plugins.base import Recorder, Request, ResponseWriter
from kdns.plugins.log.names import class_name, full_rcode, rcode_name, type_name

#: What CoreDNS writes for a value it does not have.
EMPTY = "-"


class LogRecorder(Recorder):
    """A recorder that also keeps what the log line needs: rcode, size and start time.

    The size is measured when the reply is written, before the server adds its OPT record
    and truncates, as CoreDNS's recorder does; the reply object itself is the one sent, so
    flags set by truncation (TC) show.
    """

    __slots__ = ("measure", "rcode_value", "rsize", "start")

    def __init__(self, inner: ResponseWriter, start: int, measure: bool) -> None:
        super().__init__(inner)
        self.start = start
        self.measure = measure
        self.rcode_value = 0
        self.rsize = 0

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Note the reply's rcode and uncompressed size, then write it on."""
        self.rcode_value = full_rcode(reply)
        if self.measure:
            self.rsize += uncompressed_size(reply)
        super().write(reply)

    def synthesize(self, reply: dnslib.DNSRecord) -> None:
        """Record a reply the server, not the chain, will write (an unwritten error rcode)."""
        self.rcode_value = full_rcode(reply)
        if self.measure:
            self.rsize = uncompressed_size(reply)
        self.reply = reply


class _PlainBuffer(dnslib.DNSBuffer):  # type: ignore[misc]
    """A buffer that never compresses names, to measure a message as miekg's Len() does."""

    def encode_name(self, name: object) -> None:
        self.encode_name_nocompress(name)


def uncompressed_size(msg: dnslib.DNSRecord) -> int:
    """Return the length of `msg` packed without name compression."""
    buffer = _PlainBuffer()
    msg.set_header_qa()
    msg.header.pack(buffer)
    for q in msg.questions:
        q.pack(buffer)
    for section in (msg.rr, msg.auth, msg.ar):
        for rr in section:
            rr.pack(buffer)
    return len(buffer.data)


#: A placeholder's value, computed from the request and what the recorder saw; the
#: duration (nanoseconds) is measured once per line by the caller.
Value = Callable[[Request, LogRecorder, int], str]
Piece = str | Value


def seconds(ns: int) -> str:
    """Render a duration as Go's FormatFloat(d.Seconds(), 'f', -1) plus `s`."""
    sec, nsec = divmod(ns, 1_000_000_000)
    text = repr(float(sec) + nsec / 1e9)  # shortest round-trip digits, as Go's -1 precision
    if "e" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text + "s"


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def flags(header: dnslib.DNSHeader) -> str:
    """Return the set header flags, comma-joined in CoreDNS's order (qr,aa,tc,rd,ra,z,ad,cd)."""
    names = []
    if header.qr:
        names.append("qr")
    if header.aa:
        names.append("aa")
    if header.tc:
        names.append("tc")
    if header.rd:
        names.append("rd")
    if header.ra:
        names.append("ra")
    if header.z:
        names.append("z")
    if header.ad:
        names.append("ad")
    if header.cd:
        names.append("cd")
    return ",".join(names)


def _rcode(req: Request, rec: LogRecorder, ns: int) -> str:
    return rcode_name(rec.rcode_value)


def _rflags(req: Request, rec: LogRecorder, ns: int) -> str:
    return EMPTY if rec.reply is None else flags(rec.reply.header)


LABELS: dict[str, Value] = {
    "{type}": lambda req, rec, ns: type_name(req.qtype),
    "{name}": lambda req, rec, ns: req.qname,
    "{class}": lambda req, rec, ns: class_name(req.qclass),
    "{proto}": lambda req, rec, ns: req.proto,
    "{size}": lambda req, rec, ns: str(req.size),
    "{remote}": lambda req, rec, ns: _bracket(req.remote[0]),
    "{port}": lambda req, rec, ns: str(req.remote[1]),
    "{local}": lambda req, rec, ns: _bracket(req.local[0]),
    "{>id}": lambda req, rec, ns: str(req.msg.header.id),
    "{>opcode}": lambda req, rec, ns: str(req.msg.header.opcode),
    "{>do}": lambda req, rec, ns: "true" if req.do else "false",
    "{>bufsize}": lambda req, rec, ns: str(req.udp_size),
    "{rcode}": _rcode,
    "{rsize}": lambda req, rec, ns: str(rec.rsize),
    "{duration}": lambda req, rec, ns: seconds(ns),
    "{>rflags}": _rflags,
}


def _metadata(label: str) -> Value:
    def value(req: Request, rec: LogRecorder, ns: int) -> str:
        return req.meta.get(label, EMPTY)

    return value


def compile_format(text: str) -> tuple[Piece, ...]:
    """Split a format into literal strings and value functions, as CoreDNS parses it."""
    pieces: list[Piece] = []
    rest = text
    while True:
        j = rest.find("}")
        if j < 0:
            break
        i = rest.rfind("{", 0, j)
        label = rest[i : j + 1] if i >= 0 else ""
        value = LABELS.get(label)
        if value is None and label.startswith("{/"):
            value = _metadata(label[2:-1])
        if value is None:  # no '{', or an unknown placeholder: all of it is literal
            pieces.append(rest[: j + 1])
        else:
            if i > 0:
                pieces.append(rest[:i])
            pieces.append(value)
        rest = rest[j + 1 :]
    if rest:
        pieces.append(rest)
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return tuple(merged)


def needs_size(pieces: tuple[Piece, ...]) -> bool:
    """Tell whether a compiled format shows the reply size (worth measuring each reply)."""
    return any(piece is LABELS["{rsize}"] for piece in pieces)


def render(pieces: tuple[Piece, ...], req: Request, rec: LogRecorder, ns: int) -> str:
    """Return the log line for one query."""
    return "".join(p if isinstance(p, str) else p(req, rec, ns) for p in pieces)
