"""One listener's view of the configuration: zones to chains, and the per-packet entry point."""

from __future__ import annotations

import contextvars
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dnslib
import structlog

from kdns.corefile import ServerBlock
from kdns.plugins.base import (
    FORMERR,
    NOT_WRITTEN,
    REFUSED,
    SERVFAIL,
    FastAnswer,
    FastObserver,
    Handler,
    PluginError,
    Proto,
    Request,
    fast_transparent,
)
from kdns.plugins.metrics import PANICS
from kdns.plugins.wire import name_wire, query_key
from kdns.runtime.writer import Writer

log = structlog.get_logger("kdns.server")

#: How deep lookups a plugin makes through the server (CNAME targets) may nest.
MAX_INTERNAL_DEPTH = 8
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("kdns_internal_depth", default=0)

IN, DS = 1, 43
BADVERS = 16


@dataclass(slots=True)
class Route:
    """A zone of a server block on this listener and the chain that serves it.

    `fast` is the handler that can answer from bytes when every handler in front of it is
    transparent to such answers; `observers` are those in front that count them.
    """

    zone: str
    chain: Handler | None
    block: ServerBlock
    fast: FastAnswer | None = None
    observers: tuple[FastObserver, ...] = ()

    @classmethod
    def of(cls, zone: str, chain: Handler | None, block: ServerBlock) -> Route:
        """Make the route, finding its fast path by walking the chain from the front."""
        observers: list[FastObserver] = []
        handler = chain
        while handler is not None:
            if isinstance(handler, FastAnswer):
                return cls(zone, chain, block, handler, tuple(observers))
            if not fast_transparent(handler):
                break
            if isinstance(handler, FastObserver):
                observers.append(handler)
            handler = getattr(handler, "next", None)
        return cls(zone, chain, block)


@dataclass(slots=True)
class ZoneMux:
    """The zones served on one listener (`dns://:53`) and how a query picks its block."""

    label: str
    routes: dict[str, list[Route]] = field(default_factory=dict)
    #: Classes other than IN pass only when a block here serves them (chaos, forward).
    any_class: bool = False
    #: Queries being answered right now, so a retiring generation can drain.
    in_flight: int = 0
    #: Routes by zone in wire format (lower case), for the fast path.
    wire_routes: dict[bytes, Route] = field(default_factory=dict)
    #: Off only in tests that compare the fast path with the chain.
    fast_enabled: bool = True
    #: Counters of the blocks on this listener (prometheus): they also count the queries
    #: refused before any chain runs, under the zone "dropped", as CoreDNS does.
    observers: tuple[FastObserver, ...] = ()

    def add(self, route: Route) -> None:
        """Serve `route.zone` with `route.chain` on this listener."""
        self.routes.setdefault(route.zone, []).append(route)
        zone_wire = name_wire(tuple(x.encode() for x in route.zone.rstrip(".").split(".") if x))
        self.wire_routes.setdefault(zone_wire, self.routes[route.zone][0])

    def fast(self, wire: bytes, proto: Proto, remote: tuple[str, int]) -> bytes | None:
        """Answer a raw query from bytes when its block allows it; None sends it the long way.

        Costs a key read and a few dictionary lookups; never raises.
        """
        if not self.fast_enabled:
            return None
        try:
            key = query_key(wire)
            if key is None or key[1] == DS or (key[2] != IN and not self.any_class):
                return None
            qname = key[0]
            i = 0
            route = self.wire_routes.get(qname)
            while route is None and qname[i]:
                i += qname[i] + 1
                route = self.wire_routes.get(qname[i:])
            if route is None or route.fast is None:
                return None
            start = time.perf_counter()
            reply = route.fast.fast_answer(
                key,
                wire,
                route.fast.clock(),
                server=self.label,
                remote=remote,
                tcp=proto == "tcp",
            )
            if reply is not None and route.observers:
                family = "2" if ":" in remote[0] else "1"
                seconds = time.perf_counter() - start
                rcode = reply[3] & 0xF
                for observer in route.observers:
                    observer.observe(
                        self.label,
                        route.zone,
                        "",
                        proto,
                        family,
                        key[1],
                        key[3],
                        len(wire),
                        len(reply),
                        rcode,
                        "cache",
                        seconds,
                    )
            return reply
        except Exception:  # the chain knows how to answer whatever this could not
            log.exception("fast path failed; answering through the chain", server=self.label)
            return None

    def route(self, qname: str, qtype: int) -> Route | None:
        """Pick the block for a lower-case qname: longest zone; DS goes to the parent side."""
        found: Route | None = None
        name = qname
        while True:
            routes = self.routes.get(name)
            if routes:
                found = routes[0]
                if qtype != DS:
                    return found
            if name == ".":
                break
            dot = name.find(".")
            name = name[dot + 1 :] or "."
        if found is not None:
            return found
        return None

    async def handle(
        self,
        wire: bytes,
        proto: Proto,
        remote: tuple[str, int],
        local: tuple[str, int],
        send: Callable[[bytes], None],
    ) -> None:
        """Answer one packet; never raises (a bad packet gets FORMERR or is dropped)."""
        try:
            msg = dnslib.DNSRecord.parse(wire)
        except Exception:
            reply = error_reply(wire, FORMERR)
            if reply is not None:
                send(reply)
            return
        if msg.header.qr:
            return  # a response, not a query: drop it as CoreDNS does
        req = Request(msg, proto, remote, local, size=len(wire), server=self.label)
        w = Writer(req, send)
        self.in_flight += 1
        try:
            await self._serve(req, w)
        except Exception:  # last line of defence: never let a packet kill the listener
            PANICS.inc()
            log.exception("recovered from panic", server=self.label, qname=req.name)
            reply = error_reply(wire, SERVFAIL)
            if w.written is None and reply is not None:
                send(reply)
        finally:
            self.in_flight -= 1

    async def resolve(self, name: str, qtype: int) -> dnslib.DNSRecord:
        """Look `name` up through this listener's blocks, as a client query would go.

        Used for CNAME targets (ExternalName services); nested lookups stop after
        MAX_INTERNAL_DEPTH with SERVFAIL, so a CNAME loop cannot recurse forever.
        """
        msg = dnslib.DNSRecord(q=dnslib.DNSQuestion(name, qtype))
        msg.header.rd = 1
        wire = msg.pack()
        req = Request(
            dnslib.DNSRecord.parse(wire), "tcp", ("127.0.0.1", 0), size=len(wire), server=self.label
        )
        replies: list[bytes] = []
        w = Writer(req, replies.append)
        depth = _DEPTH.get()
        if depth >= MAX_INTERNAL_DEPTH:
            return req.reply(SERVFAIL)
        token = _DEPTH.set(depth + 1)
        try:
            await self._serve(req, w)
        finally:
            _DEPTH.reset(token)
        return dnslib.DNSRecord.parse(replies[0]) if replies else req.reply(SERVFAIL)

    def _drop(self, req: Request, w: Writer) -> None:
        """REFUSE a query no block takes, counting it under the zone "dropped"."""
        w.write(req.reply(REFUSED))
        for observer in self.observers:
            observer.observe(
                self.label,
                "dropped",
                "",
                req.proto,
                str(req.family),
                req.qtype,
                req.do,
                req.size,
                w.size,
                REFUSED,
                "",
                0.0,
            )

    async def _serve(self, req: Request, w: Writer) -> None:
        if not req.msg.questions:
            w.write(req.reply(SERVFAIL))
            return
        opt = req.opt
        if opt is not None and (opt.ttl >> 16) & 0xFF > 0:
            reply = req.reply()
            reply.add_ar(dnslib.EDNS0(udp_len=1232, ext_rcode=BADVERS >> 4))
            reply.header.rcode = BADVERS & 0xF
            w.write(reply)
            return
        if req.qclass != IN and not self.any_class:
            self._drop(req, w)
            return
        route = self.route(req.qname, req.qtype)
        if route is None or route.chain is None:
            self._drop(req, w)
            return
        req.zone = route.zone
        try:
            rcode = await route.chain.serve_dns(req, w)
        except PluginError as exc:
            rcode = exc.rcode
        except Exception:
            PANICS.inc()
            log.exception("recovered from panic in plugin chain", server=self.label, qname=req.name)
            rcode = SERVFAIL
        if rcode in NOT_WRITTEN and w.written is None:
            w.write(req.reply(rcode))


def error_reply(wire: bytes, rcode: int) -> bytes | None:
    """Return a header-only reply with `rcode` to a query's raw bytes, or None if unreadable.

    Used where the message cannot be trusted to encode: a malformed query (FORMERR) or a
    failure while answering (SERVFAIL).
    """
    if len(wire) < 12:
        return None
    ident, flags = struct.unpack("!HH", wire[:4])
    if flags & 0x8000:
        return None  # never answer a response
    opcode_rd = flags & 0x7900  # opcode and RD
    return struct.pack("!HHHHHH", ident, 0x8000 | opcode_rd | rcode, 0, 0, 0, 0)
