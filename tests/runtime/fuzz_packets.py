"""DNS packets for fuzzing the wire path, and the checks every reply to them must pass.

Shared by tests/runtime/test_fuzz_wire.py (a quick run) and bench/fuzz_wire.py (a million
packets); both load this file by path (it is not a test module).

The hypothesis strategies build whole messages part by part: a header with any flags, opcode
and counts (honest or lying), questions of every type and class, names with compression
pointers (valid, forward, loops, out of range, into the header, reserved label types), EDNS0
OPT records (versions, sizes, DO, options well and badly formed, several OPTs), records in
the other sections, messages cut short or padded past 512 bytes (up to 65535 for TCP), and
plain garbage. `mutate` changes a packet cheaply for runs too long for hypothesis.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
from hypothesis import strategies as st

HEADER = 12
OPT = 41
#: The largest UDP payload over IPv4; bigger packets go over TCP only.
UDP_MAX = 65507

#: Names the kubeadm Corefile answers from the cluster (tests/runtime/cluster/cluster.yaml),
#: from the reverse zones, through forward, or not at all.
NAMES = [
    "svc1.testns.svc.cluster.local.",
    "SVC1.TestNS.svc.cluster.local.",
    "dual.testns.svc.cluster.local.",
    "_http._tcp.svc1.testns.svc.cluster.local.",
    "ep1a.svc1.testns.svc.cluster.local.",
    "hdls1.testns.svc.cluster.local.",
    "db-0.hdls1.testns.svc.cluster.local.",
    "ext.testns.svc.cluster.local.",
    "web.prod.svc.cluster.local.",
    "kubernetes.default.svc.cluster.local.",
    "10-0-0-1.testns.pod.cluster.local.",
    "missing.testns.svc.cluster.local.",
    "testns.svc.cluster.local.",
    "svc.cluster.local.",
    "cluster.local.",
    "dns-version.cluster.local.",
    "1.1.96.10.in-addr.arpa.",
    "10.0.0.10.in-addr.arpa.",
    "8.8.8.8.in-addr.arpa.",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.",
    "ip6.arpa.",
    "example.com.",
    "www.example.org.",
    "big.example.net.",
    ".",
]
#: Query types worth asking by name; any 16-bit value is drawn too.
QTYPES = [
    1,
    2,
    5,
    6,
    12,
    13,
    15,
    16,
    28,
    33,
    35,
    39,
    41,
    43,
    46,
    47,
    48,
    50,
    52,
    64,
    65,
    99,
    249,
    250,
    251,
    252,
    253,
    254,
    255,
    256,
    257,
    0,
    65535,
    65280,
]
#: IN, CH, HS, NONE, ANY and a few more.
QCLASSES = [1, 1, 1, 3, 4, 254, 255, 0, 2, 65535]
#: EDNS0 UDP sizes: below the minimum, the usual ones, the largest.
EDNS_SIZES = [0, 1, 256, 511, 512, 513, 1024, 1232, 1400, 4096, 8192, 65535]


# -- plain builders ------------------------------------------------------------------------


def header(ident: int, flags: int, qd: int, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    """Pack a DNS header."""
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar)


def name_wire(name: str | bytes) -> bytes:
    """Encode a dotted name (or raw labels separated by dots) without compression."""
    raw = name.encode() if isinstance(name, str) else name
    labels = [x for x in raw.rstrip(b".").split(b".") if x]
    return b"".join(bytes([len(x) & 0xFF]) + x for x in labels) + b"\x00"


def opt_record(
    size: int,
    *,
    ext_rcode: int = 0,
    version: int = 0,
    do: bool = False,
    z: int = 0,
    options: bytes = b"",
    owner: bytes = b"\x00",
    rdlen: int | None = None,
) -> bytes:
    """Pack an EDNS0 OPT record; `rdlen` may lie about the options' length."""
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0) | (z & 0x7FFF)
    length = len(options) if rdlen is None else rdlen
    return owner + struct.pack("!HHIH", OPT, size, ttl, length) + options


def option(code: int, data: bytes, length: int | None = None) -> bytes:
    """Pack one EDNS0 option; `length` may lie."""
    return struct.pack("!HH", code, len(data) if length is None else length) + data


def query(name: str, qtype: int = 1, *, ident: int = 0x1234, edns: int | None = None) -> bytes:
    """A plain, well-formed query (RD set), with an OPT when `edns` is a size."""
    opt = opt_record(edns) if edns is not None else b""
    return (
        header(ident, 0x0100, 1, 0, 0, 1 if opt else 0)
        + name_wire(name)
        + struct.pack("!HH", qtype, 1)
        + opt
    )


# -- hypothesis strategies -----------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)


@st.composite
def labels(draw: st.DrawFn) -> bytes:
    """A name in wire format without pointers: known names, odd labels, too long names."""
    kind = draw(st.sampled_from(["known", "known", "known", "random", "long", "binary"]))
    if kind == "known":
        return name_wire(draw(st.sampled_from(NAMES)))
    if kind == "random":
        parts = draw(st.lists(st.binary(min_size=1, max_size=63), max_size=6))
        suffix = draw(st.sampled_from([b"", b"cluster.local", b"svc.cluster.local", b"arpa"]))
        return name_wire(b".".join([*parts, suffix]))
    if kind == "long":  # past 255 bytes, or a 63-byte label at the limit
        n = draw(st.integers(1, 6))
        return (b"\x3f" + b"a" * 63) * n + b"\x00"
    # a label length that runs past the data, or bytes that are not a name at all
    return draw(st.binary(min_size=1, max_size=40)) + b"\x00"


@st.composite
def flags(draw: st.DrawFn) -> int:
    """Header flags: mostly a query with RD, sometimes any bits (QR, opcodes, Z, rcode)."""
    if draw(st.integers(0, 3)):
        opcode = draw(st.sampled_from([0, 0, 0, 1, 2, 4, 5, 6, 15]))
        rd = draw(st.booleans())
        cd = draw(st.booleans())
        ad = draw(st.booleans())
        return (opcode << 11) | (rd << 8) | (ad << 5) | (cd << 4)
    return int(draw(u16))


@st.composite
def options(draw: st.DrawFn) -> bytes:
    """EDNS0 options: NSID, ECS, cookies, padding, keepalive, unknown; lengths may lie."""
    out = b""
    for _ in range(draw(st.integers(0, 4))):
        code = draw(st.sampled_from([3, 8, 9, 10, 11, 12, 5, 15, 65001, 0, 65535]))
        if code == 8:  # client subnet: family, source, scope, address (maybe wrong)
            family = draw(st.sampled_from([1, 2, 0, 3]))
            source = draw(st.integers(0, 140))
            data = struct.pack("!HBB", family, source, draw(u8)) + draw(st.binary(max_size=17))
        elif code == 10:  # cookie: 8 client bytes, +8..32 server bytes, or bad lengths
            data = draw(st.binary(min_size=0, max_size=41))
        else:
            data = draw(st.binary(max_size=30))
        lie = draw(st.sampled_from([None, None, None, 0, 1, 0xFFFF, len(data) + 1]))
        out += option(code, data, lie)
    return out


@st.composite
def opts(draw: st.DrawFn) -> bytes:
    """One OPT record, now and then a malformed one."""
    opts_data = draw(options())
    owner = draw(st.sampled_from([b"\x00", b"\x00", b"\x00", b"\x03com\x00", b"\xc0\x0c"]))
    rdlen = draw(st.sampled_from([None, None, None, 0, 1, 0xFFFF]))
    return opt_record(
        draw(st.sampled_from(EDNS_SIZES) | u16),
        ext_rcode=draw(st.sampled_from([0, 0, 0, 1, 255])),
        version=draw(st.sampled_from([0, 0, 0, 1, 255])),
        do=draw(st.booleans()),
        z=draw(st.sampled_from([0, 0, 1, 0x7FFF])),
        options=opts_data,
        owner=owner,
        rdlen=rdlen,
    )


def pointer(offset: int) -> bytes:
    """A compression pointer to `offset` (14 bits)."""
    return struct.pack("!H", 0xC000 | (offset & 0x3FFF))


@st.composite
def compressed(draw: st.DrawFn, at: int, end_hint: int) -> bytes:
    """A name written at offset `at` that uses a pointer: back to the first question (valid),
    to itself (a loop), forward, out of range, into the header, or a reserved label type."""
    prefix = draw(st.sampled_from([b"", b"\x01a", b"\x03www", b"\x04svc1\x06testns"]))
    here = at + len(prefix)
    kind = draw(
        st.sampled_from(["valid", "valid", "self", "forward", "range", "header", "reserved"])
    )
    if kind == "valid":
        return prefix + pointer(HEADER)
    if kind == "self":
        return prefix + pointer(here if draw(st.booleans()) else at)
    if kind == "forward":
        return prefix + pointer(here + draw(st.integers(2, 40)))
    if kind == "range":
        return prefix + pointer(end_hint + draw(st.integers(0, 0x3FFF)))
    if kind == "header":
        return prefix + pointer(draw(st.integers(0, HEADER - 1)))
    return prefix + bytes([draw(st.sampled_from([0x40, 0x80, 0x41, 0xBF])), draw(u8)])


@st.composite
def records(draw: st.DrawFn, at: int) -> bytes:
    """A resource record at offset `at`: owner plain or compressed, any type, rdata that fits
    its type or does not, an rdlength that may lie."""
    if draw(st.booleans()):
        owner = pointer(HEADER)
    elif draw(st.booleans()):
        owner = draw(compressed(at, at + 64))
    else:
        owner = draw(labels())
    rtype = draw(st.sampled_from([1, 28, 5, 12, 33, 16, 6, 2, 41, 250, 249, 47]) | u16)
    if rtype == 1:
        rdata = draw(st.binary(min_size=4, max_size=4) | st.binary(max_size=8))
    elif rtype in (5, 12, 2):  # a name in rdata, maybe a pointer loop
        rdata = draw(st.sampled_from([pointer(HEADER), b"\x00"]) | st.binary(max_size=12))
    else:
        rdata = draw(st.binary(max_size=40))
    rdlen = draw(st.sampled_from([None, None, None, 0, 0xFFFF]) | u16)
    length = len(rdata) if rdlen is None else rdlen
    ttl = draw(st.sampled_from([0, 30, 0x7FFFFFFF, 0xFFFFFFFF]))
    return owner + struct.pack("!HHIH", rtype, draw(st.sampled_from(QCLASSES)), ttl, length) + rdata


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A DNS message built part by part, with counts that match or lie."""
    body = b""
    # Most messages pass the header checks (one question, no answer or authority records)
    # so that they reach the parser and the plugins; the rest are rejected up front.
    nq = draw(st.sampled_from([1] * 8 + [0, 2, 3]))
    for i in range(nq):
        at = HEADER + len(body)
        name = draw(labels()) if i == 0 or draw(st.booleans()) else draw(compressed(at, at + 40))
        qtype = draw(st.sampled_from(QTYPES) | u16)
        qclass = draw(st.sampled_from(QCLASSES) | u16)
        body += name + struct.pack("!HH", qtype, qclass)
    counts = [nq, 0, 0, 0]
    for section in (1, 2):
        for _ in range(draw(st.sampled_from([0] * 8 + [1, 2]))):
            body += draw(records(HEADER + len(body)))
            counts[section] += 1
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        body += draw(opts())
        counts[3] += 1
    if draw(st.integers(0, 4)) == 0:
        body += draw(records(HEADER + len(body)))
        counts[3] += 1
    if draw(st.integers(0, 5)) == 0:  # counts that lie
        counts = [draw(st.sampled_from([c, c + 1, max(c - 1, 0), 0xFFFF]) | u16) for c in counts]
    return header(draw(u16), draw(flags()), *counts) + body


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    """A message cut anywhere, including inside the header."""
    msg = draw(messages())
    return msg[: draw(st.integers(0, max(len(msg) - 1, 0)))]


@st.composite
def oversized(draw: st.DrawFn) -> bytes:
    """A message past 512 bytes: many questions, a big OPT, or trailing bytes, up to 65535."""
    msg = draw(messages())
    size = draw(st.sampled_from([513, 600, 1300, 4097, 9000, 65507, 65535]))
    how = draw(st.sampled_from(["trailing", "questions", "padding"]))
    if how == "questions":
        q = name_wire(draw(st.sampled_from(NAMES))) + b"\x00\x01\x00\x01"
        n = max(1, (size - HEADER) // len(q))
        return header(draw(u16), 0x0100, min(n, 0xFFFF)) + (q * n)[: size - HEADER]
    if how == "padding":  # one question and an OPT with a huge PADDING option
        pad = max(0, size - HEADER - 60)
        q = name_wire(draw(st.sampled_from(NAMES))) + b"\x00\x01\x00\x01"
        opt = opt_record(4096, options=option(12, b"\x00" * min(pad, 0xFFFF - 4)))
        return (header(draw(u16), 0x0100, 1, 0, 0, 1) + q + opt)[:size]
    return (msg + bytes(size))[:size]


def garbage() -> st.SearchStrategy[bytes]:
    """Bytes that are not DNS at all, short and long."""
    return st.binary(max_size=3) | st.binary(min_size=11, max_size=13) | st.binary(max_size=700)


def packets() -> st.SearchStrategy[bytes]:
    """Any packet the fuzzers send."""
    return st.one_of(messages(), messages(), messages(), truncated(), oversized(), garbage())


# -- cheap mutation for long runs -----------------------------------------------------------


#: Byte values that mean something in a DNS message (pointers, label limits, OPT).
_BYTES = (0, 0xFF, 0xC0, 0x3F, 0x40, 0x29, 0x01, 0x80)


def mutate(packet: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """Change a packet a little: flip, set, insert or delete bytes, cut, splice another."""
    data = bytearray(packet)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(7)
        n = len(data)
        if op == 0 and n:
            data[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            byte = rng.choice(_BYTES) if rng.random() < 0.7 else rng.randrange(256)
            data[rng.randrange(n)] = byte
        elif op == 2:
            data.insert(rng.randrange(n + 1), rng.randrange(256))
        elif op == 3 and n:
            del data[rng.randrange(n)]
        elif op == 4 and n:
            data = data[: rng.randrange(n)]
        elif op == 5:
            other = rng.choice(pool)
            data = data[: rng.randrange(n + 1)] + other[rng.randrange(len(other) + 1) :]
        elif op == 6 and n >= 12:  # counts and flags are where parsers go wrong
            data[rng.randrange(2, 12)] = rng.randrange(256)
    return bytes(data[:0xFFFF])


# -- what every reply must be --------------------------------------------------------------


def expects_reply(packet: bytes) -> bool:
    """Tell whether the server must answer: a header's worth of bytes and QR clear.

    Anything shorter cannot carry an ID to answer with, and a response is never answered
    (CoreDNS drops both)."""
    return len(packet) >= HEADER and not packet[2] & 0x80


def _skip_name(wire: bytes, i: int) -> int:
    # the checker walks names itself: plugins/wire.py is part of what is under test
    while True:
        length = wire[i]
        if length == 0:
            return i + 1
        if length & 0xC0 == 0xC0:
            return i + 2
        if length & 0xC0:
            raise ValueError("reserved label type")
        i += length + 1


def allowed_size(packet: bytes) -> int:
    """The largest UDP reply the client allows: its EDNS0 size (at least 512) when the
    first OPT in the additional section can be found, else 512."""
    try:
        qd, an, ns, ar = struct.unpack_from("!HHHH", packet, 4)
        i = HEADER
        for _ in range(qd):
            i = _skip_name(packet, i) + 4
        for n in range(an + ns + ar):
            fixed = _skip_name(packet, i)
            rtype, rclass, _, rdlen = struct.unpack_from("!HHIH", packet, fixed)
            if rtype == OPT and n >= an + ns:
                return max(512, rclass)
            i = fixed + 10 + rdlen
    except (IndexError, struct.error, ValueError):
        pass
    return 512


@dataclass(frozen=True, slots=True)
class Problem:
    """A reply that broke a rule, with the query that got it."""

    rule: str
    query: bytes
    reply: bytes
    tcp: bool

    def __str__(self) -> str:
        how = "tcp" if self.tcp else "udp"
        return f"{self.rule} ({how}) query={self.query.hex()} reply={self.reply.hex()}"


def check_reply(packet: bytes, reply: bytes, tcp: bool) -> Problem | None:
    """Return what is wrong with `reply` to `packet`, or None when it is a good reply."""
    if not expects_reply(packet):
        return Problem("reply to a packet that must be dropped", packet, reply, tcp)
    if len(reply) < HEADER:
        return Problem("reply shorter than a header", packet, reply, tcp)
    if reply[:2] != packet[:2]:
        return Problem("reply ID differs from the query's", packet, reply, tcp)
    if not reply[2] & 0x80:
        return Problem("reply without QR", packet, reply, tcp)
    if not tcp and len(reply) > allowed_size(packet):
        return Problem(f"reply larger than {allowed_size(packet)} bytes", packet, reply, tcp)
    try:
        dns.message.from_wire(reply)
    except (dns.exception.DNSException, ValueError) as exc:
        return Problem(f"malformed reply: {type(exc).__name__}: {exc}", packet, reply, tcp)
    return None


# -- an upstream that answers too much ------------------------------------------------------


def upstream_reply(packet: bytes) -> bytes | None:
    """Answer a forwarded query with 0 to 199 A records, chosen by the name's bytes and
    ignoring the client's size: kdns, not the upstream, must keep UDP replies in bounds."""
    try:
        end = _skip_name(packet, HEADER) + 4
    except (IndexError, ValueError):
        return None
    if len(packet) < end or packet[2] & 0x80:
        return None
    question = packet[HEADER:end]
    n = sum(question) % 200
    rr = pointer(HEADER) + struct.pack("!HHIH", 1, 1, 60, 4)
    answers = b"".join(rr + bytes([10, 0, i >> 8, i & 0xFF]) for i in range(n))
    return header(struct.unpack_from("!H", packet)[0], 0x8180, 1, n) + question + answers


class UpstreamUdp(asyncio.DatagramProtocol):
    """The loud upstream over UDP."""

    transport: asyncio.DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = upstream_reply(data)
        if reply is not None:
            self.transport.sendto(reply, addr)


async def _upstream_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            reply = upstream_reply(await reader.readexactly(length))
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
    except (asyncio.IncompleteReadError, OSError):
        pass
    finally:
        writer.close()


async def start_upstream(port: int) -> Callable[[], None]:
    """Serve the loud upstream on 127.0.0.1:`port` (UDP and TCP); return its closer."""
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(UpstreamUdp, local_addr=("127.0.0.1", port))
    tcp = await asyncio.start_server(_upstream_tcp, "127.0.0.1", port)

    def close() -> None:
        udp.close()
        tcp.close()

    return close


# -- sending -----------------------------------------------------------------------------------


def draw_packets(strategy: st.SearchStrategy[bytes], n: int) -> list[bytes]:
    """Return `n` packets drawn from `strategy`, the same ones on every run (derandomized)."""
    from hypothesis import HealthCheck, given, settings

    out: list[bytes] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(packet: bytes) -> None:
        out.append(packet)

    collect()
    return out[:n]


def numbered(packets: list[bytes], first: int = 0) -> list[bytes]:
    """Give each packet of two bytes or more its own ID (its position), so replies match."""
    return [
        struct.pack("!H", (first + i) & 0xFFFF) + p[2:] if len(p) >= 2 else p
        for i, p in enumerate(packets)
    ]


@dataclass
class Outcome:
    """What a batch of packets got back."""

    sent: int = 0
    replies: int = 0
    #: Packets that needed a reply and got none within the bound.
    lost: list[bytes] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: The last reply received.
    last: bytes | None = None


async def send_udp(
    port: int, packets: list[bytes], *, window: int = 32, quiet: float = 1.0, drain: float = 0.2
) -> Outcome:
    """Send numbered packets over UDP, `window` at a time, and check every reply (and the
    stray ones that come within `drain` seconds after the last)."""
    loop = asyncio.get_running_loop()
    out = Outcome()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect(("127.0.0.1", port))
    sent = {p[:2]: p for p in packets if len(p) >= 2}

    async def receive(until: float, waiting: dict[bytes, bytes], drain: bool = False) -> None:
        while waiting or drain:
            left = until - loop.time()
            if left <= 0:
                return
            try:
                reply = await asyncio.wait_for(loop.sock_recv(sock, 70000), left)
            except TimeoutError:
                return
            except ConnectionRefusedError:
                continue
            out.replies += 1
            out.last = reply
            waiting.pop(reply[:2], None)
            problem = check_reply(sent.get(reply[:2], b""), reply, tcp=False)
            if problem is not None:
                out.problems.append(problem)

    try:
        for start in range(0, len(packets), window):
            batch = [p for p in packets[start : start + window] if len(p) <= UDP_MAX]
            waiting = {p[:2]: p for p in batch if expects_reply(p)}
            for p in batch:
                await loop.sock_sendall(sock, p)
            out.sent += len(batch)
            await receive(loop.time() + quiet, waiting)
            out.lost.extend(waiting.values())
        await receive(loop.time() + drain, {}, drain=True)  # stray replies
    finally:
        sock.close()
    return out


async def send_tcp(
    port: int,
    packets: list[bytes],
    *,
    per_connection: int = 16,
    quiet: float = 2.0,
    drain: float = 0.0,
) -> Outcome:
    """Send numbered packets over TCP, pipelined `per_connection` on a connection; after the
    replies expected, wait `drain` seconds for stray ones on each connection."""
    out = Outcome()
    for start in range(0, len(packets), per_connection):
        batch = [p for p in packets[start : start + per_connection] if len(p) <= 0xFFFF]
        waiting = {p[:2]: p for p in batch if expects_reply(p)}
        sent = {p[:2]: p for p in batch if len(p) >= 2}
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for p in batch:
                writer.write(struct.pack("!H", len(p)) + p)
            await writer.drain()
            out.sent += len(batch)
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(quiet) as bound:
                while True:
                    if not waiting:
                        if not drain:
                            break
                        bound.reschedule(min(bound.when() or 0, loop.time() + drain))
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    reply = await reader.readexactly(length)
                    out.replies += 1
                    out.last = reply
                    query = sent.get(reply[:2], b"")
                    waiting.pop(reply[:2], None)
                    problem = check_reply(query, reply, tcp=True)
                    if problem is not None:
                        out.problems.append(problem)
        except (TimeoutError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()
        out.lost.extend(waiting.values())
    return out


# -- the server under fuzzing ---------------------------------------------------------------

#: kubeadm's default Corefile, which the fuzzing serves.
EXAMPLE = Path(__file__).parents[2] / "examples" / "kubeadm.corefile"


def kubeadm_corefile(port: int, kubeconfig: Path, upstreams: str, side: list[int]) -> str:
    """examples/kubeadm.corefile with the API server, local upstreams and free ports."""
    text = EXAMPLE.read_text()
    health, ready, metrics = side
    text = text.replace(".:53 {", f".:{port} {{")
    text = text.replace("    health {", f"    health 127.0.0.1:{health} {{")
    text = text.replace("    ready\n", f"    ready 127.0.0.1:{ready}\n")
    text = text.replace(
        "       pods insecure", f"       kubeconfig {kubeconfig}\n       pods insecure"
    )
    text = text.replace("prometheus :9153", f"prometheus 127.0.0.1:{metrics}")
    text = text.replace("forward . /etc/resolv.conf", f"forward . {upstreams}")
    assert text.count("127.0.0.1") == 5, text
    return text
