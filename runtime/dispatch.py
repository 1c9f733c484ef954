"""One listener's view of the configuration: zones to chains, and the per-packet entry point."""

from __future__ import annotations

import contextvars
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import dnslib
import structlog

from kdns.corefile import ServerBlock
from kdns.plugins.base import (
    FORMERR,
    NOT_WRITTEN,
    REFUSED,
    SERVFAIL,
    FastAnswer,
    FastFill,
    FastObserver,
    FastPass,
    FastReuse,
    FastTransform,
    Handler,
    PluginError,
    Proto,
    Request,
    count_nothing,
    fast_transparent,
)
from kdns.plugins.metrics import PANICS
from kdns.plugins.wire import name_wire, packed, query_key
from kdns.runtime.admission import DROP, admission, names_fit
from kdns.runtime.hot import VARIANTS, Accounting, HotTable
from kdns.runtime.writer import Writer

log = structlog.get_logger("kdns.server")

#: How deep lookups a plugin makes through the server (CNAME targets) may nest.
MAX_INTERNAL_DEPTH: Final = 8
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("kdns_internal_depth", default=0)

IN: Final = 1
DS: Final = 43
BADVERS: Final = 16
#: Bound once, not read from the time module per query.
_perf_counter: Final = time.perf_counter


@dataclass(slots=True)
class Route:
    """A zone of a server block on this listener and the chain that serves it.

    `fast` are the handlers that can answer from bytes, in chain order, when every handler in
    front of them is transparent to such answers (a FastPass answerer lets the query on to the
    next one when it would only have passed it on); `observers` are those in front that count.
    """

    zone: str
    chain: Handler | None
    block: ServerBlock
    fast: tuple[FastAnswer, ...] = ()
    observers: tuple[FastObserver, ...] = ()
    #: For each of `fast`, itself if it is a FastPass, else None (found once, not per query).
    passes: tuple[FastPass | None, ...] = ()
    #: For each of `fast`, the FastPass answerers in front of it (those a query passed).
    passed_before: tuple[tuple[FastPass, ...], ...] = ()
    #: For each of `fast`, itself if its answers may be reused (FastReuse), else None.
    reusers: tuple[FastReuse | None, ...] = ()
    #: For each of `fast`, itself if it stores what the answerers behind give (FastFill).
    fillers: tuple[FastFill | None, ...] = ()
    #: What handlers in front do to a reply on its way out (loadbalance), outermost first.
    transforms: tuple[Callable[[bytes], bytes], ...] = ()
    #: The block's view name ("" without one) and its admission test (views.py sets both).
    view: str = ""
    admit: Callable[[Request], bool] | None = None
    #: The block has `debug`: a panic is logged with the query in hex (views.py sets it).
    debug: bool = False

    @classmethod
    def of(cls, zone: str, chain: Handler | None, block: ServerBlock) -> Route:
        """Make the route, finding its fast path by walking the chain from the front."""
        observers: list[FastObserver] = []
        answerers: list[FastAnswer] = []
        transforms: list[Callable[[bytes], bytes]] = []
        handler = chain
        while handler is not None:
            if isinstance(handler, FastAnswer):
                answerers.append(handler)
                if not isinstance(handler, FastPass):
                    break
            elif isinstance(handler, FastTransform) and not answerers:
                transform = handler.fast_transform()
                if transform is None:
                    break
                transforms.append(transform)
            elif not fast_transparent(handler):
                break
            elif isinstance(handler, FastObserver):
                observers.append(handler)
            handler = getattr(handler, "next", None)
        passes = tuple(a if isinstance(a, FastPass) else None for a in answerers)
        return cls(
            zone,
            chain,
            block,
            tuple(answerers),
            tuple(observers),
            passes,
            tuple(tuple(p for p in passes[:i] if p is not None) for i in range(len(passes))),
            tuple(a if isinstance(a, FastReuse) else None for a in answerers),
            tuple(a if isinstance(a, FastFill) else None for a in answerers),
            tuple(transforms),
        )


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
    #: The route of every name when the root is the only zone here (kubeadm's `.:53`).
    only: Route | None = None
    #: Off only in tests that compare the fast path with the chain.
    fast_enabled: bool = True
    #: Counters of the blocks on this listener (prometheus): they also count the queries
    #: refused before any chain runs, under the zone "dropped", as CoreDNS does.
    observers: tuple[FastObserver, ...] = ()
    #: Replies the fast path gave, sent again for the same query bytes (hot.py), per transport.
    hot_udp: HotTable = field(default_factory=HotTable)
    hot_tcp: HotTable = field(default_factory=HotTable)

    def flush(self) -> None:
        """Count the answers the hot path sent since the last flush (metrics read after)."""
        self.hot_udp.flush()
        self.hot_tcp.flush()

    def add(self, route: Route) -> None:
        """Serve `route.zone` with `route.chain` on this listener."""
        self.routes.setdefault(route.zone, []).append(route)
        zone_wire = name_wire(tuple(x.encode() for x in route.zone.rstrip(".").split(".") if x))
        self.wire_routes.setdefault(zone_wire, self.routes[route.zone][0])
        self.only = self.wire_routes.get(b"\x00") if len(self.wire_routes) == 1 else None

    def set_fast_route(self, zone_wire: bytes, route: Route) -> None:
        """Have the fast path take `route` for the names of a zone already served here."""
        self.wire_routes[zone_wire] = route
        if self.only is not None:
            self.only = route

    def fast(self, wire: bytes, proto: Proto, remote: tuple[str, int]) -> bytes | None:
        """Answer a raw query from bytes when its block allows it; None sends it the long way.

        Costs a key read and a few dictionary lookups; never raises.
        """
        if not self.fast_enabled:
            return None
        hot = self.hot_udp if proto == "udp" else self.hot_tcp
        return hot.answer(wire, ":" in remote[0]) or self.fast_cold(wire, proto, remote)

    def fast_cold(self, wire: bytes, proto: Proto, remote: tuple[str, int]) -> bytes | None:
        """The fast path without the hot table: find the route, ask its answerers, keep the
        reply as hot when the answerer says it holds."""
        if not self.fast_enabled:
            return None
        hot = self.hot_udp if proto == "udp" else self.hot_tcp
        try:
            key = query_key(wire)
            if key is None or key[1] == DS or (key[2] != IN and not self.any_class):
                return None
            qname = key[0]
            i = 0
            route = self.only or self.wire_routes.get(qname)
            while route is None and qname[i]:
                i += qname[i] + 1
                route = self.wire_routes.get(qname[i:])
            if route is None or not route.fast:
                return None
            start = _perf_counter()
            reply = None
            tcp = proto == "tcp"
            filling: list[int] = []  # where the answerers that store this query stand
            for i, answerer in enumerate(route.fast):
                passing = route.passes[i]
                if passing is not None and passing.fast_passes(key):
                    continue  # a name it never stores: it holds no answer either
                reply = answerer.fast_answer(key, wire, answerer.clock(), self.label, remote, tcp)
                if reply is not None:
                    break
                if passing is None or route.fillers[i] is None:
                    return None
                filling.append(i)  # it stores this query: the one behind answers, it keeps
            if reply is None:
                return None
            source = None  # how long the answer behind stays the same, for a lone filler
            if len(filling) == 1 and (behind := route.reusers[i]) is not None:
                found = behind.fast_reuse()
                source = found[0] if found is not None else None
            for at in reversed(filling):  # innermost first, as the chain's writers nest
                filler = route.fillers[at]
                assert filler is not None
                reply = filler.fast_fill(
                    key, wire, reply, filler.clock(), server=self.label, tcp=tcp, source=source
                )
                if reply is None:
                    return None
            base = reply
            if route.transforms:
                reply = _transformed(base, route.transforms)
            # a stored answer is the outermost filler's to give again (counted as its hits)
            giver = filling[0] if filling else i
            reusing = route.reusers[giver]
            reuse = reusing.fast_reuse() if reusing is not None else None
            seconds = _perf_counter() - start
            repeat = reuse[1] if reuse is not None and not filling else count_nothing
            accounting = Accounting(
                self.label,
                route.zone,
                proto,
                key[1],
                key[3],
                len(wire),
                len(reply),
                reply[3] & 0xF,
                answerer.name,
                seconds,
                route.observers,
                route.passed_before[i],
                repeat,
            )
            v6 = ":" in remote[0]
            # an answer that counts nothing of its own is counted with the entry's hits to
            # come (hot.py: the same observations, made once per flush instead of now)
            later = reuse is not None and not filling and repeat is count_nothing
            if not later:
                for passed in accounting.passed:
                    passed.fast_passed(self.label)
                accounting.observe("2" if v6 else "1")
            if filling and reuse is not None:  # the hits to come are the filler's
                accounting = accounting.handed(
                    route.fast[giver].name, route.passed_before[giver], reuse[1]
                )
            if reuse is not None:
                variants = [reply]
                if route.transforms and reply is not base:  # else: nothing to reorder
                    variants += [_transformed(base, route.transforms) for _ in range(VARIANTS - 1)]
                hot.keep(wire, variants, reuse[0], accounting, v6 if later else None)
            return reply
        except dnslib.DNSError:  # a query dnslib cannot read: the chain answers FORMERR
            return None
        except Exception:  # the chain knows how to answer whatever this could not
            log.exception("fast path failed; answering through the chain", server=self.label)
            return None

    def route(self, req: Request) -> Route | None:
        """Pick the block for a query: longest zone; DS goes to the parent side.

        Among the blocks of one zone the first whose view admits the query wins (blocks without
        a view admit all); when none does, the search goes on with the parent zone, as CoreDNS's
        does. A block with no plugins is picked without asking (its queries are REFUSED).
        """
        found: Route | None = None
        name = req.qname
        while True:
            for route in self.routes.get(name, ()):
                if route.chain is not None and route.admit is not None and not route.admit(req):
                    continue
                found = route
                if req.qtype != DS or route.chain is None:
                    return found
                break
            if name == ".":
                break
            dot = name.find(".")
            name = name[dot + 1 :] or "."
        return found

    async def handle(
        self,
        wire: bytes,
        proto: Proto,
        remote: tuple[str, int],
        local: tuple[str, int],
        send: Callable[[bytes], None],
    ) -> None:
        """Answer one packet; never raises (a bad packet gets FORMERR or is dropped)."""
        refusal = admission(wire)
        if refusal is not None:
            reply = error_reply(wire, refusal) if refusal != DROP else None
            if reply is not None:
                send(reply)
            return
        try:
            msg = dnslib.DNSRecord.parse(wire)
            if not names_fit(msg):
                raise ValueError("a name longer than 255 octets")
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
        wire = packed(msg)
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
        route = self.route(req)
        if route is None or route.chain is None:
            self._drop(req, w)
            return
        req.zone = route.zone
        req.view = route.view
        try:
            rcode = await route.chain.serve_dns(req, w)
        except PluginError as exc:
            rcode = exc.rcode
        except Exception:
            if route.debug:  # CoreDNS's debug does not recover; kdns keeps serving, loudly
                log.exception(
                    "panic in plugin chain (debug: not recovered)",
                    server=self.label,
                    qname=req.name,
                    query=req.msg.pack().hex(),
                )
            else:
                PANICS.inc()
                log.exception(
                    "recovered from panic in plugin chain", server=self.label, qname=req.name
                )
            rcode = SERVFAIL
        if rcode in NOT_WRITTEN and w.written is None:
            w.write(req.reply(rcode))


def _transformed(reply: bytes, transforms: tuple[Callable[[bytes], bytes], ...]) -> bytes:
    """Return `reply` as the handlers in front change it on its way out (innermost first)."""
    for transform in reversed(transforms):
        reply = transform(reply)
    return reply


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
