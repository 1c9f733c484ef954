"""transfer: DNS NOTIFY (RFC 1996) to the secondaries of a zone, as CoreDNS sends it.

CoreDNS's rules, kept here: the message is opcode NOTIFY with the zone's SOA as its question
and AA set (RD clear); it goes over UDP to each `to` address but `*`, one after the other; a
secondary is asked up to three times until it replies NOERROR, then given up on with an error
logged. kdns waits two seconds for each reply (miekg/dns's default read timeout).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket

import dnslib

NOTIFY_OPCODE = 4
SOA = 6
#: Tries per secondary, and the seconds each try waits for a reply (CoreDNS: 3 and 2s).
TRIES = 3
TIMEOUT = 2.0


def notify_message(zone: str, ident: int | None = None) -> dnslib.DNSRecord:
    """Return a NOTIFY for `zone`: opcode 4, AA, one question `zone IN SOA`."""
    header = dnslib.DNSHeader(
        id=random.randrange(1 << 16) if ident is None else ident,
        opcode=NOTIFY_OPCODE,
        aa=1,
        rd=0,
    )
    return dnslib.DNSRecord(header, q=dnslib.DNSQuestion(zone, SOA))


class _Exchange(asyncio.DatagramProtocol):
    """Waits for the reply to one message id on a UDP socket of its own."""

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.reply: asyncio.Future[dnslib.DNSRecord] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            msg = dnslib.DNSRecord.parse(data)
        except Exception:  # noise on the socket is not a reply
            return
        if msg.header.id == self.ident and msg.header.qr and not self.reply.done():
            self.reply.set_result(msg)

    def error_received(self, exc: Exception) -> None:
        # An ICMP "port unreachable" (nobody listens): end this try at once, as a timeout.
        if not self.reply.done():
            self.reply.set_exception(exc)


async def exchange(
    msg: dnslib.DNSRecord,
    target: tuple[str, int],
    source: str | None = None,
    timeout: float = TIMEOUT,
) -> dnslib.DNSRecord:
    """Send `msg` over UDP to `target` (from `source` if set) and return the reply.

    Raises TimeoutError when none arrives in `timeout` seconds and OSError when the send fails.
    """
    host, port = target
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    loop = asyncio.get_running_loop()
    local = (source, 0) if source is not None else None
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Exchange(msg.header.id), local_addr=local, family=family
    )
    try:
        transport.sendto(msg.pack(), (host, port))
        async with asyncio.timeout(timeout):
            return await protocol.reply
    finally:
        transport.close()


async def send_notify(
    zone: str,
    target: tuple[str, int],
    source: str | None = None,
    *,
    timeout: float = TIMEOUT,
) -> str | None:
    """Notify one secondary of `zone`; return None once it replied NOERROR, else why not."""
    problem = "no reply"
    for _ in range(TRIES):
        msg = notify_message(zone)
        try:
            reply = await exchange(msg, target, source, timeout)
        except (OSError, TimeoutError) as exc:
            problem = str(exc) or type(exc).__name__
            continue
        rcode = int(reply.header.rcode)
        if rcode == 0:
            return None
        problem = f"rcode was {dnslib.RCODE.get(rcode)}"
    return problem


async def notify_all(
    zone: str,
    targets: tuple[tuple[str, int], ...],
    source: str | None = None,
    *,
    timeout: float = TIMEOUT,
) -> dict[tuple[str, int], str]:
    """Notify each secondary in turn; return those that did not accept, with the reason."""
    failed: dict[tuple[str, int], str] = {}
    for target in targets:
        problem = await send_notify(zone, target, source, timeout=timeout)
        if problem is not None:
            failed[target] = problem
    return failed
