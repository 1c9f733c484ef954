"""A quick fuzz run over the wire path against the kubeadm Corefile, and the kept corpus.

kdns serves the kubeadm Corefile (kubernetes against the project's API server, forward to a
dead and a live upstream, cache, loadbalance, prometheus, errors, health, ready, loop,
reload) and gets generated packets over UDP and TCP (tests/runtime/fuzz_packets.py). Every
reply must be a well-formed DNS message with QR set and the query's ID, no larger than the
client allows over UDP; every packet with a header gets a reply in time; nothing is logged
as an exception and coredns_panics_total stays put; afterwards normal queries are answered.
The long run is bench/fuzz_wire.py.
"""

from __future__ import annotations

import asyncio
import io
import random
import re
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.plugins.metrics import PANICS
from kdns.runtime.testing import free_port, import_path, query, running

HERE = Path(__file__).parent
CLUSTER = HERE / "cluster" / "cluster.yaml"
CORPUS = sorted((HERE / "fuzz_corpus").glob("*.bin"))
SERVICE_CIDRS = ("10.96.0.0/12", "fd00:10:96::/112")


F = import_path("fuzz_packets", HERE / "fuzz_packets.py")  # tests are not a package

#: Lines that must never be logged while fuzzing.
BAD_LINES = ("Traceback", "panic", "exception", "fast path failed")


def kubeadm_corefile(port: int, kubeconfig: Path, upstreams: str, side: list[int]) -> str:
    """examples/kubeadm.corefile on test ports, without its 5 s lameduck at shutdown."""
    text = re.sub(
        r" \{\n +lameduck 5s\n +\}", "", F.kubeadm_corefile(port, kubeconfig, upstreams, side)
    )
    assert "lameduck" not in text, text
    return text


@dataclass
class Served:
    """A kdns serving the kubeadm Corefile, and what it logged so far."""

    port: int
    log: io.StringIO


@pytest.fixture
async def served(tmp_path: Path, log_output: io.StringIO) -> AsyncIterator[Served]:
    """The API server with the test cluster, a live and a dead upstream, and kdns."""
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    loop.set_exception_handler(lambda _, context: failures.append(str(context)))
    async with ApiServer([CLUSTER], poll_interval=0, service_cidrs=SERVICE_CIDRS) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        live, dead, port = free_port(), free_port(), free_port()
        close = await F.start_upstream(live)
        upstreams = f"127.0.0.1:{dead} 127.0.0.1:{live}"
        side = [free_port() for _ in range(3)]
        try:
            async with running(kubeadm_corefile(port, kubeconfig, upstreams, side), tmp_path):
                yield Served(port, log_output)
        finally:
            close()
    assert failures == [], "unhandled exceptions on the event loop"


async def still_answers(port: int) -> None:
    """A cluster name, a forwarded name and a reverse name get their right answers."""
    reply = await query(port, "svc1.testns.svc.cluster.local.", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [r.to_text() for rrset in reply.answer for r in rrset] == ["10.96.1.1"]
    reply = await query(port, "kubernetes.default.svc.cluster.local.", "A", tcp=True)
    assert [r.to_text() for rrset in reply.answer for r in rrset] == ["10.96.0.1"]
    reply = await query(port, "1.1.96.10.in-addr.arpa.", "PTR")
    assert [r.to_text() for rrset in reply.answer for r in rrset] == [
        "svc1.testns.svc.cluster.local."
    ]
    reply = await query(port, "example.com.", "A", use_edns=0, payload=4096)
    assert reply.rcode() == dns.rcode.NOERROR  # from the live upstream


def assert_clean(served: Served, panics: float) -> None:
    """No exception logged, no panic counted."""
    bad = [line for line in served.log.getvalue().splitlines() if any(b in line for b in BAD_LINES)]
    assert bad == []
    assert PANICS.get() == panics


def expectation(path: Path) -> str:
    """The rcode (or `drop`, or `any`) a corpus case's name says it gets: NAME.EXPECT.bin."""
    return path.name.removesuffix(".bin").rsplit(".", 1)[1]


def rcode_of(reply: bytes) -> str:
    """The reply's rcode as a lower-case name, extended rcodes included."""
    return dns.rcode.to_text(dns.message.from_wire(reply).rcode()).lower()


async def test_corpus_cases_get_the_reply_they_expect(served: Served) -> None:
    """Each kept packet, over UDP when it fits and over TCP, gets a good reply (or none)."""
    panics = PANICS.get()
    assert len(CORPUS) >= 30
    wrong = []
    for path in CORPUS:
        packet, expect = path.read_bytes(), expectation(path)
        for tcp in (False, True):
            if not tcp and len(packet) > F.UDP_MAX:
                continue
            drain = 0.3 if expect == "drop" else 0.0  # time for a reply that must not come
            if tcp:
                out = await F.send_tcp(served.port, [packet], drain=drain)
            else:
                out = await F.send_udp(served.port, [packet], drain=drain)
            where = f"{path.name} over {'TCP' if tcp else 'UDP'}"
            assert [str(p) for p in out.problems] == [], where
            assert out.lost == [], where
            got = "drop" if out.last is None else rcode_of(out.last)
            if expect != "any" and got != expect:
                wrong.append(f"{where}: {got}")
    assert not wrong, "\n".join(wrong)
    await still_answers(served.port)
    assert_clean(served, panics)


async def test_generated_packets_over_udp_and_tcp(served: Served) -> None:
    """Hypothesis-built packets and cheap mutations of them: every reply good, none missing."""
    panics = PANICS.get()
    pool = F.draw_packets(F.packets(), 300)
    rng = random.Random(8)
    mutated = [F.mutate(rng.choice(pool), rng, pool) for _ in range(1500)]
    packets = F.numbered(pool + mutated)
    udp = await F.send_udp(served.port, packets)
    tcp = await F.send_tcp(served.port, F.numbered(pool[:150] + mutated[:150], 40000))
    assert [str(p) for p in udp.problems + tcp.problems] == []
    assert [p.hex() for p in udp.lost + tcp.lost] == []
    assert udp.replies == len([p for p in packets if F.expects_reply(p) and len(p) <= F.UDP_MAX])
    assert tcp.sent == 300
    await still_answers(served.port)
    assert_clean(served, panics)


async def test_broken_tcp_framing_costs_only_its_connection(served: Served) -> None:
    """A zero length, a length that lies, a connection cut mid-message: the server goes on."""
    for stream in (b"\x00\x00", b"\x00\x05ab", b"\x01", b"\xff\xff" + bytes(100), b""):
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(stream)
        await writer.drain()
        writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    wire = F.query("svc1.testns.svc.cluster.local.")
    writer.write(b"\x00\x00" + struct.pack("!H", len(wire)) + wire)  # an empty message first
    (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 3))
    assert rcode_of(await reader.readexactly(length)) == "noerror"
    writer.close()
    await still_answers(served.port)


async def test_a_reply_that_cannot_encode_is_servfail_not_silence() -> None:
    """A plugin writing a reply dnslib cannot pack (a 300-octet name): the client still gets
    SERVFAIL with its ID, and the panic is counted."""
    import dataclasses

    import dnslib

    from kdns.plugins import default_registry
    from kdns.plugins.base import Plugin, Request, ResponseWriter
    from kdns.plugins.whoami import WhoamiConfig

    class Unpackable(Plugin[WhoamiConfig]):
        name = "whoami"

        async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
            reply = req.reply()
            reply.add_answer(dnslib.RR(".".join(["a" * 63] * 5), rdata=dnslib.A("1.2.3.4")))
            w.write(reply)
            return 0

    registry = default_registry()
    registry["whoami"] = dataclasses.replace(registry["whoami"], build=Unpackable)
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n", registry=registry):
        before = PANICS.get()
        reply = await query(port, "example.org.", ident=4321)
        assert reply.id == 4321
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert PANICS.get() == before + 1
