"""transfer NOTIFY over real sockets: a UDP socket on 127.0.0.1 stands as the secondary of a
`file` zone; it is notified at startup and when the zone file gets a higher serial, and its
follow-up SOA query and AXFR are answered with the new zone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rdatatype
import dns.zone

from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask

ZONE = """\
$ORIGIN example.org.
@    300 SOA ns1 hostmaster {serial} 7200 3600 1209600 300
     300 NS  ns1
ns1  300 A   192.0.2.53
{extra}
"""


class Secondary(asyncio.DatagramProtocol):
    """Answers every NOTIFY with NOERROR and keeps it."""

    def __init__(self) -> None:
        self.notifies: asyncio.Queue[dns.message.Message] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        msg = dns.message.from_wire(data)
        self.notifies.put_nowait(msg)
        assert self.transport is not None
        self.transport.sendto(dns.message.make_response(msg).to_wire(), addr)


async def test_secondary_is_notified_and_transfers_the_new_serial(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(Secondary, local_addr=("127.0.0.1", 0))
    secondary_port = transport.get_extra_info("sockname")[1]
    db = tmp_path / "db.example.org"
    db.write_text(ZONE.format(serial=1, extra=""))
    port = free_port()
    corefile = f"""\
example.org:{port} {{
    bind 127.0.0.1
    file {db} {{
        reload 100ms
    }}
    transfer {{
        to 127.0.0.1:{secondary_port}
    }}
}}
"""
    try:
        async with running(corefile, tmp_path):
            first = await asyncio.wait_for(peer.notifies.get(), 3)  # startup: once per zone
            assert first.opcode() == dns.opcode.NOTIFY
            assert first.flags & dns.flags.AA
            assert [(str(q.name), q.rdtype) for q in first.question] == [
                ("example.org.", dns.rdatatype.SOA)
            ]

            db.write_text(ZONE.format(serial=2, extra="www 300 A 192.0.2.80"))
            changed = await asyncio.wait_for(peer.notifies.get(), 3)
            assert changed.opcode() == dns.opcode.NOTIFY
            assert str(changed.question[0].name) == "example.org."
            assert peer.notifies.empty()  # one NOTIFY, accepted: no retry

            # the secondary's follow-up: SOA over UDP, then AXFR over TCP
            soa = await ask(port, "example.org", "SOA")
            assert soa.flags & dns.flags.AA
            assert [r.serial for r in soa.answer[0]] == [2]
            zone = await asyncio.to_thread(
                lambda: dns.zone.from_xfr(
                    dns.query.xfr("127.0.0.1", "example.org", port=port, timeout=3)
                )
            )
            assert zone.get_soa().serial == 2
            assert sorted(str(n) for n in zone.nodes) == ["@", "ns1", "www"]
    finally:
        transport.close()
