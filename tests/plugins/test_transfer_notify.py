"""transfer NOTIFY: the message CoreDNS sends, who gets it (the closest zone's `to`, never
`*`), retries until a secondary replies NOERROR, and the file plugin announcing its zones at
startup and on each reload. A UDP socket on 127.0.0.1 stands as the secondary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import dnslib
import pytest
import structlog.testing

from kdns.plugins.file import File
from kdns.plugins.testing import build
from kdns.plugins.transfer import Notifier, Transfer
from kdns.plugins.transfer.notify import notify_message, send_notify

ZONE = """\
$ORIGIN example.org.
@    3600 SOA ns1 hostmaster {serial} 7200 3600 1209600 3600
     3600 NS  ns1
ns1  3600 A   192.0.2.53
"""


class Secondary(asyncio.DatagramProtocol):
    """Keeps the messages it gets; replies to each with `rcode` (None: stays silent)."""

    def __init__(self, rcode: int | None = 0) -> None:
        self.rcode = rcode
        self.got: asyncio.Queue[tuple[dnslib.DNSRecord, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        msg = dnslib.DNSRecord.parse(data)
        self.got.put_nowait((msg, (str(addr[0]), int(addr[1]))))
        if self.rcode is not None and self.transport is not None:
            reply = msg.reply()
            reply.header.rcode = self.rcode
            self.transport.sendto(reply.pack(), addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def next(self, timeout: float = 3.0) -> dnslib.DNSRecord:
        msg, _ = await asyncio.wait_for(self.got.get(), timeout)
        return msg


Factory = Callable[..., Awaitable[Secondary]]


@pytest.fixture
async def secondary() -> AsyncIterator[Factory]:
    made: list[Secondary] = []

    async def make(rcode: int | None = 0) -> Secondary:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(
            lambda: Secondary(rcode), local_addr=("127.0.0.1", 0)
        )
        made.append(proto)
        return proto

    yield make
    for proto in made:
        if proto.transport is not None:
            proto.transport.close()


async def pair(tmp_path: Path, transfer: str, serial: int = 1) -> tuple[Transfer, File, Path]:
    """A transfer handler in front of a file handler serving example.org from tmp_path."""
    db = tmp_path / "db.example.org"
    db.write_text(ZONE.format(serial=serial))
    back = build(f"file {db} {{\nreload 0\n}}")
    assert isinstance(back, File)
    front = build(transfer, back)
    assert isinstance(front, Transfer)
    return front, back, db


def test_notify_message_is_opcode_notify_with_the_soa_question() -> None:
    msg = dnslib.DNSRecord.parse(notify_message("example.org.", ident=7).pack())
    assert msg.header.id == 7
    assert msg.header.opcode == 4
    assert msg.header.aa
    assert not msg.header.rd
    assert not msg.header.qr
    assert [(str(q.qname), q.qtype, q.qclass) for q in msg.questions] == [
        ("example.org.", dnslib.QTYPE.SOA, 1)
    ]


def test_file_is_a_notifier() -> None:
    assert isinstance(build("file db.example.org"), Notifier)


async def test_startup_and_reload_notify_the_secondary(tmp_path: Path, secondary: Factory) -> None:
    """One NOTIFY per zone at startup; another when a reload finds a new serial."""
    peer = await secondary()
    front, back, db = await pair(tmp_path, f"transfer {{\nto * 127.0.0.1:{peer.port}\n}}")
    await front.start()  # chain order: transfer registers, file then loads and announces
    await back.start()
    msg = await peer.next()
    assert msg.header.opcode == 4
    assert str(msg.q.qname) == "example.org."
    assert msg.q.qtype == dnslib.QTYPE.SOA

    assert not await back.reload(back.slots[next(iter(back.slots))])  # same serial: silent
    db.write_text(ZONE.format(serial=2))
    assert await back.reload(back.slots[next(iter(back.slots))])
    msg = await peer.next()
    assert str(msg.q.qname) == "example.org."
    await asyncio.sleep(0.05)
    assert peer.got.empty()  # the NOERROR reply stopped the retries
    await front.stop()


async def test_file_started_first_is_announced_once(tmp_path: Path, secondary: Factory) -> None:
    peer = await secondary()
    front, back, _ = await pair(tmp_path, f"transfer {{\nto 127.0.0.1:{peer.port}\n}}")
    await back.start()
    await front.start()
    assert str((await peer.next()).q.qname) == "example.org."
    await asyncio.sleep(0.1)
    assert peer.got.empty()
    await front.stop()


async def test_only_the_closest_zone_is_notified(tmp_path: Path, secondary: Factory) -> None:
    """`to *` gets nothing; a zone outside every transfer zone gets nothing."""
    far, near = await secondary(), await secondary()
    text = (
        f"transfer org {{\nto {'127.0.0.1'}:{far.port}\n}}\n"
        f"transfer example.org {{\nto *\nto 127.0.0.1:{near.port}\n}}"
    )
    front, back, _ = await pair(tmp_path, text)
    await front.start()
    await back.start()
    assert str((await near.next()).q.qname) == "example.org."
    front.notify("example.net.")  # no transfer zone holds it
    front.notify("*.")
    await asyncio.sleep(0.1)
    assert far.got.empty()
    assert near.got.empty()
    await front.stop()


async def test_refusing_secondary_is_tried_three_times(secondary: Factory) -> None:
    peer = await secondary(dnslib.RCODE.REFUSED)
    problem = await send_notify("example.org.", ("127.0.0.1", peer.port), timeout=0.5)
    assert problem == "rcode was REFUSED"
    assert peer.got.qsize() == 3


async def test_silent_secondary_is_given_up_and_logged(secondary: Factory) -> None:
    peer = await secondary(None)
    problem = await send_notify(
        "example.org.", ("127.0.0.1", peer.port), source="127.0.0.1", timeout=0.05
    )
    assert problem == "TimeoutError"
    assert peer.got.qsize() == 3
    _, addr = peer.got.get_nowait()
    assert addr[0] == "127.0.0.1"  # sent from `source`

    front = build(f"transfer {{\nto 127.0.0.1:{peer.port}\n}}")
    assert isinstance(front, Transfer)
    front.notify_timeout = 0.05
    with structlog.testing.capture_logs() as logs:
        await front.start()
        front.notify("example.org.")
        await asyncio.sleep(0.5)
    errors = [e["event"] for e in logs if e["log_level"] == "error"]
    assert errors == [
        f"notify for zone 'example.org.' was not accepted by 127.0.0.1:{peer.port}: TimeoutError"
    ]
    await front.stop()


async def test_stop_gives_up_notifies_in_flight(secondary: Factory) -> None:
    peer = await secondary(None)
    front = build(f"transfer {{\nto 127.0.0.1:{peer.port}\n}}")
    assert isinstance(front, Transfer)
    front.notify_timeout = 0.2
    await front.start()
    front.notify("example.org.")
    await peer.next()
    with structlog.testing.capture_logs() as logs:
        await front.stop()
    assert not logs
    await asyncio.sleep(0.4)  # past the first try's timeout: no second try was made
    assert peer.got.empty()
