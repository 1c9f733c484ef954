"""A million fuzzed packets against `kdns serve` with the kubeadm Corefile; print one row.

    .venv/bin/python bench/fuzz_wire.py                  # 1,000,000 packets
    .venv/bin/python bench/fuzz_wire.py --packets 50000  # a short run

Starts the project's API server (tests/runtime/cluster/cluster.yaml), a loud upstream (it
answers up to 199 A records whatever the client's size) and a dead one, and kdns serving
examples/kubeadm.corefile on free ports with those. A pool of packets is drawn with the
hypothesis strategies of tests/runtime/fuzz_packets.py (plus the kept corpus); each packet
sent is a pool packet or a cheap byte mutation of one, with its own ID. UDP goes out on
several sockets with a window of packets in flight each; a share goes over TCP, pipelined,
including messages up to 65535 bytes.

Every reply is checked: well-formed (dnspython), QR set, the query's ID, no larger over UDP
than the query allows (512 or its EDNS0 size). A packet with a header and QR clear must get a
reply within --timeout seconds (else it counts as lost); any other packet must get none.
Afterwards kdns must still be running, answer known names correctly over UDP and TCP,
have counted no panic (coredns_panics_total on /metrics) and logged no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import re
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
from perf import free_port

from kdns.runtime.testing import import_path

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "tests" / "runtime" / "cluster" / "cluster.yaml"
CORPUS = ROOT / "tests" / "runtime" / "fuzz_corpus"


F = import_path("fuzz_packets", ROOT / "tests" / "runtime" / "fuzz_packets.py")


@dataclass
class Tally:
    """What the run saw."""

    sent: int = 0
    sent_tcp: int = 0
    replies: int = 0
    malformed: int = 0
    oversize: int = 0
    unexpected: int = 0
    lost: int = 0
    rules: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: list[str] = field(default_factory=list)

    def judge(self, packet: bytes | None, reply: bytes, tcp: bool) -> None:
        """Count one reply (to `packet`, None when no packet in flight has its ID)."""
        self.replies += 1
        if packet is None:
            self.unexpected += 1
            self.keep("reply with an ID no query in flight has", reply)
            return
        problem = F.check_reply(packet, reply, tcp)
        if problem is None:
            return
        if problem.rule.startswith("reply larger"):
            self.oversize += 1
        elif problem.rule.startswith("reply to a packet"):
            self.unexpected += 1
        else:
            self.malformed += 1
        self.rules[problem.rule.split(":")[0]] += 1
        self.keep(str(problem), b"")

    def keep(self, text: str, reply: bytes) -> None:
        if len(self.examples) < 20:
            self.examples.append(text + (f" reply={reply.hex()}" if reply else ""))


class UdpLane:
    """One UDP socket with up to `window` packets in flight, matched by ID.

    Packets that must stay unanswered do not take room in the window; they keep their ID for
    a short while so that a reply to one is caught.
    """

    SILENCE = 0.3

    def __init__(self, port: int, window: int, timeout: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.window = window
        self.timeout = timeout
        self.next_id = random.randrange(0x10000)
        #: ID -> (packet, deadline), for packets to be answered and for those to be dropped.
        self.flight: dict[int, tuple[bytes, float]] = {}
        self.silent: dict[int, tuple[bytes, float]] = {}
        self.orders: dict[bool, collections.deque[tuple[int, float]]] = {
            True: collections.deque(),
            False: collections.deque(),
        }

    def send(self, packet: bytes, now: float) -> None:
        ident = self.next_id
        self.next_id = (ident + 1) & 0xFFFF
        if len(packet) >= 2:
            packet = struct.pack("!H", ident) + packet[2:]
            answer = F.expects_reply(packet)
            deadline = now + (self.timeout if answer else self.SILENCE)
            (self.flight if answer else self.silent)[ident] = (packet, deadline)
            self.orders[answer].append((ident, deadline))
        with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
            self.sock.send(packet)  # if not sent, counted as lost when it needed an answer

    def receive(self, tally: Tally) -> None:
        while True:
            try:
                reply = self.sock.recv(70000)
            except (BlockingIOError, ConnectionRefusedError):
                return
            if len(reply) < 2:
                tally.judge(None, reply, False)
                continue
            ident = struct.unpack_from("!H", reply)[0]
            entry = self.flight.pop(ident, None) or self.silent.get(ident)
            tally.judge(entry[0] if entry else None, reply, False)

    def expire(self, now: float, tally: Tally) -> None:
        for answer, table in ((True, self.flight), (False, self.silent)):
            order = self.orders[answer]
            while order and order[0][1] <= now:
                ident, deadline = order.popleft()
                entry = table.get(ident)
                if entry is not None and entry[1] == deadline:
                    del table[ident]
                    if answer:
                        tally.lost += 1
                        tally.keep("lost (no reply in time)", entry[0])

    @property
    def room(self) -> bool:
        return len(self.flight) < self.window


def tcp_batch(port: int, packets: list[bytes], first_id: int, timeout: float, tally: Tally) -> None:
    """Send packets pipelined on one TCP connection; judge the replies; count the missing."""
    numbered = F.numbered(packets, first_id)
    by_id = {p[:2]: p for p in numbered if len(p) >= 2}
    waiting = {p[:2] for p in numbered if F.expects_reply(p)}
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"".join(struct.pack("!H", len(p)) + p for p in numbered))
        tally.sent_tcp += len(numbered)
        try:
            buffer = b""
            deadline = time.monotonic() + timeout
            while waiting and time.monotonic() < deadline:
                chunk = sock.recv(1 << 17)
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 2:
                    (length,) = struct.unpack_from("!H", buffer)
                    if len(buffer) < 2 + length:
                        break
                    reply, buffer = buffer[2 : 2 + length], buffer[2 + length :]
                    waiting.discard(reply[:2])
                    tally.judge(by_id.get(reply[:2]), reply, True)
        except (TimeoutError, OSError):
            pass
    tally.lost += len(waiting)
    for ident in list(waiting)[:3]:
        tally.keep("lost over TCP", by_id[ident])


def draw_pool(size: int, seed: int) -> list[bytes]:
    """Hypothesis-drawn packets plus the kept corpus."""
    pool = F.draw_packets(F.packets(), size)
    pool += [p.read_bytes() for p in sorted(CORPUS.glob("*.bin"))]
    random.Random(seed).shuffle(pool)
    return pool


def fuzz(port: int, args: argparse.Namespace, pool: list[bytes], tally: Tally) -> None:
    """Send `args.packets` packets: UDP lanes with windows, every so often a TCP batch."""
    rng = random.Random(args.seed)
    lanes = [UdpLane(port, args.window, args.timeout) for _ in range(args.sockets)]
    selector = selectors.DefaultSelector()
    for lane in lanes:
        selector.register(lane.sock, selectors.EVENT_READ, lane)
    tcp_every = max(1, int(args.tcp_batch / args.tcp_share)) if args.tcp_share > 0 else 0
    total = args.packets
    sent = 0
    tcp_id = 0
    next_tcp = tcp_every
    report = time.monotonic() + 10
    start = time.monotonic()
    while sent < total or any(lane.flight or lane.silent for lane in lanes):
        now = time.monotonic()
        for lane in lanes:
            while sent < total and lane.room:
                base = rng.choice(pool)
                packet = base if rng.random() < 0.2 else F.mutate(base, rng, pool)
                if len(packet) > F.UDP_MAX:
                    packet = packet[: F.UDP_MAX]
                lane.send(packet, now)
                sent += 1
        tally.sent = sent
        for key, _ in selector.select(timeout=0.05):
            key.data.receive(tally)
        now = time.monotonic()
        for lane in lanes:
            lane.expire(now, tally)
        if tcp_every and sent >= next_tcp and sent < total:
            batch = [F.mutate(rng.choice(pool), rng, pool) for _ in range(args.tcp_batch)]
            tcp_batch(port, batch, tcp_id, args.timeout, tally)
            tcp_id += args.tcp_batch
            next_tcp += tcp_every
        if now > report:
            rate = sent / (now - start)
            print(f"  {sent:,} sent, {tally.replies:,} replies, {rate:,.0f}/s", flush=True)
            report = now + 10
    for lane in lanes:
        lane.sock.close()


# -- processes ------------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """Resident set size of `pid`, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_http(url: str, seconds: float = 30) -> None:
    """Wait for `url` to answer 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered 200")


def panics(metrics_port: int) -> float:
    """coredns_panics_total as /metrics says."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    found = re.search(r"^coredns_panics_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def answers_correctly(port: int) -> list[str]:
    """Ask known names over UDP and TCP; return what was wrong (nothing, hopefully)."""
    wrong = []
    cases = [
        ("svc1.testns.svc.cluster.local.", "A", {"10.96.1.1"}),
        ("kubernetes.default.svc.cluster.local.", "A", {"10.96.0.1"}),
        ("1.1.96.10.in-addr.arpa.", "PTR", {"svc1.testns.svc.cluster.local."}),
        ("missing.testns.svc.cluster.local.", "A", set()),
    ]
    for tcp in (False, True):
        for name, rdtype, expected in cases:
            q = dns.message.make_query(name, rdtype)
            ask = dns.query.tcp if tcp else dns.query.udp
            try:
                reply = ask(q, "127.0.0.1", port=port, timeout=3)
            except Exception as exc:
                wrong.append(f"{name} {rdtype}: {exc!r}")
                continue
            got = {r.to_text() for rrset in reply.answer for r in rrset}
            if got != expected:
                wrong.append(f"{name} {rdtype} over {'TCP' if tcp else 'UDP'}: {got}")
        q = dns.message.make_query("example.com.", "A")
        reply = (dns.query.tcp if tcp else dns.query.udp)(q, "127.0.0.1", port=port, timeout=3)
        if reply.rcode() != 0 or (not tcp and len(reply.to_wire()) > 512):
            wrong.append(f"example.com A: {reply.rcode()} {len(reply.to_wire())} bytes")
    return wrong


def run_upstream(port: int) -> None:
    """`--upstream PORT`: serve the loud upstream until killed."""

    async def serve() -> None:
        await F.start_upstream(port)
        await asyncio.Event().wait()

    asyncio.run(serve())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=3000, help="hypothesis-drawn packets")
    parser.add_argument("--sockets", type=int, default=8, help="UDP sockets")
    parser.add_argument("--window", type=int, default=16, help="packets in flight per socket")
    parser.add_argument("--tcp-share", type=float, default=0.02, help="share sent over TCP")
    parser.add_argument("--tcp-batch", type=int, default=32, help="packets per TCP connection")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds a reply may take")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        run_upstream(args.upstream)
        return 0

    wall = time.monotonic()
    python = sys.executable
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kubeconfig = folder / "kubeconfig"
        api_port, live, dead, port = free_port(), free_port(), free_port(), free_port()
        side = [free_port() for _ in range(3)]
        (folder / "Corefile").write_text(
            F.kubeadm_corefile(port, kubeconfig, f"127.0.0.1:{dead} 127.0.0.1:{live}", side)
        )
        log_path = folder / "kdns.log"
        api = subprocess.Popen(
            [python, "-m", "kdns.runtime", "apiserver", str(CLUSTER), "--port", str(api_port),
             "--kubeconfig", str(kubeconfig)],
            stdout=subprocess.DEVNULL,
            env=env,
        )  # fmt: skip
        upstream = subprocess.Popen([python, __file__, "--upstream", str(live)], env=env)
        kdns = None
        try:
            deadline = time.monotonic() + 20
            while not kubeconfig.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            with open(log_path, "w") as log:
                kdns = subprocess.Popen(
                    [python, "-m", "kdns.runtime", "serve", "--conf", str(folder / "Corefile")],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            wait_http(f"http://127.0.0.1:{side[1]}/ready")
            print(f"pool: drawing {args.pool} packets with hypothesis...", flush=True)
            pool = draw_pool(args.pool, args.seed)
            rss_before = rss_mib(kdns.pid)
            panics_before = panics(side[2])
            tally = Tally()
            fuzz_start = time.monotonic()
            fuzz(port, args, pool, tally)
            fuzz_seconds = time.monotonic() - fuzz_start
            alive = kdns.poll() is None
            wrong = answers_correctly(port) if alive else ["kdns is not running"]
            panic_count = panics(side[2]) - panics_before if alive else float("nan")
            rss_after = rss_mib(kdns.pid) if alive else 0.0
        finally:
            for proc in (kdns, upstream, api):
                if proc is not None:
                    proc.terminate()
            for proc in (kdns, upstream, api):
                if proc is not None:
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        logged = log_path.read_text()
    tracebacks = logged.count("Traceback")
    bad_lines = [
        line for line in logged.splitlines() if re.search(r"panic|Traceback|fast path failed", line)
    ]
    for example in tally.examples:
        print("  example:", example[:600])
    for line in bad_lines[:10]:
        print("  log:", line[:300])
    for item in wrong:
        print("  wrong after the run:", item)
    print()
    head = (
        "packets sent | over TCP | replies | malformed | oversize | unexpected | lost | "
        "panics | tracebacks | alive | correct after | RSS before -> after MiB | pkts/s | wall s"
    )
    print(head)
    print(
        f"{tally.sent + tally.sent_tcp:,} | {tally.sent_tcp:,} | {tally.replies:,} | "
        f"{tally.malformed} | {tally.oversize} | {tally.unexpected} | {tally.lost} | "
        f"{panic_count:g} | {tracebacks} | {'yes' if alive else 'NO'} | "
        f"{'yes' if not wrong else 'NO'} | {rss_before:.0f} -> {rss_after:.0f} | "
        f"{(tally.sent + tally.sent_tcp) / fuzz_seconds:,.0f} | {time.monotonic() - wall:.0f}"
    )
    print(f"command: .venv/bin/python bench/fuzz_wire.py --packets {args.packets}")
    clean = (
        alive
        and not wrong
        and not (tally.malformed or tally.oversize or tally.unexpected or tally.lost)
        and panic_count == 0
        and tracebacks == 0
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
