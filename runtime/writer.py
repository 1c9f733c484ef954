"""Turning a reply into the bytes a client gets: OPT echo, truncation to its buffer size."""

from __future__ import annotations

from collections.abc import Callable

import dnslib

from kdns.plugins.base import EDNS_SIZE, Request
from kdns.plugins.wire import packed

OPT = dnslib.QTYPE.OPT


def _with_opt(req: Request, reply: dnslib.DNSRecord) -> None:
    """Make the reply's OPT follow the request: echoed when asked with EDNS0, absent if not."""
    others = [rr for rr in reply.ar if rr.rtype != OPT]
    client = req.opt
    if client is None:
        reply.ar = others
        return
    mine = next((rr for rr in reply.ar if rr.rtype == OPT), None)
    if mine is None:
        flags = "do" if client.ttl & 0x8000 else ""
        mine = dnslib.EDNS0(udp_len=EDNS_SIZE, flags=flags)
    reply.ar = [*others, mine]


def encode(req: Request, reply: dnslib.DNSRecord) -> bytes:
    """Pack `reply` for `req`'s transport, truncating to the client's size with TC set.

    Additional records go first (without TC, as miekg/dns does), then authority and answer
    records from the end, which sets TC.
    """
    _with_opt(req, reply)
    wire = packed(reply)
    limit = req.udp_size
    if len(wire) <= limit:
        return wire
    opt = [rr for rr in reply.ar if rr.rtype == OPT]
    extra = [rr for rr in reply.ar if rr.rtype != OPT]
    while extra and len(wire) > limit:
        extra.pop()
        reply.ar = [*extra, *opt]
        wire = packed(reply)
    while len(wire) > limit and (reply.auth or reply.rr):
        reply.header.tc = 1
        if reply.auth:
            reply.auth.pop()
        else:
            reply.rr.pop()
        wire = packed(reply)
    if len(wire) > limit:  # a huge question or OPT: header and question only
        reply.rr, reply.auth, reply.ar = [], [], opt
        reply.header.tc = 1
        wire = packed(reply)
    return wire


class Writer:
    """The response writer the runtime hands to the chain: packs and sends at once."""

    __slots__ = ("req", "send", "size", "written")

    def __init__(self, req: Request, send: Callable[[bytes], None]) -> None:
        self.req = req
        self.send = send
        self.written: dnslib.DNSRecord | None = None
        #: The size of the bytes sent (what the metrics count), 0 before a write.
        self.size = 0

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Encode `reply` for the client and send it.

        Over UDP only the first reply goes out; over TCP each call sends one message, so a
        zone transfer can stream several.
        """
        if self.written is not None and self.req.proto != "tcp":
            return
        wire = encode(self.req, reply)  # first: a reply that cannot encode is not written
        self.written = reply
        self.size = len(wire)
        self.send(wire)
