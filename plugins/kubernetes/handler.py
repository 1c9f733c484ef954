"""kubernetes: answers cluster names from the watched API, as CoreDNS's kubernetes plugin does.

Queries outside the plugin's zones go to the next plugin. Inside, records.py computes the
answer from the index; this handler adds the zone's SOA to negative answers, applies
`fallthrough` (checked first) and the not-yet-synced rule (a would-be NXDOMAIN becomes an
authoritative SERVFAIL), and finishes ExternalName answers whose target lies outside the
zone by resolving it through the server (`resolve`, set by the runtime) or, without one,
through this plugin or the next one.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

import dnslib
import structlog

from kdns.plugins.base import (
    NOERROR,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    BuildContext,
    Capture,
    Fresh,
    Handler,
    Plugin,
    PluginError,
    Request,
    ResponseWriter,
    count_nothing,
    next_or_failure,
)
from kdns.plugins.kubernetes import autopath
from kdns.plugins.kubernetes.answers import AnswerTable, scope_of
from kdns.plugins.kubernetes.axfr import zone_transfer
from kdns.plugins.kubernetes.config import KubernetesConfig
from kdns.plugins.kubernetes.direct import Direct
from kdns.plugins.kubernetes.index import Index
from kdns.plugins.kubernetes.local import own_addresses
from kdns.plugins.kubernetes.metadata import request_metadata
from kdns.plugins.kubernetes.names import match_zone
from kdns.plugins.kubernetes.objects import Sink
from kdns.plugins.kubernetes.records import MAX_CNAMES, Outcome, answer, soa_rr
from kdns.plugins.kubernetes.scopes import ALL
from kdns.plugins.wire import Key, name_wire, packed

log = structlog.get_logger("plugin/kubernetes")

#: Resolves a name through the whole server: (name, qtype) -> the reply; raising means failed.
Resolver = Callable[[str, int], Awaitable[dnslib.DNSRecord]]
#: How deep ExternalName lookups through this handler are nested (a loop guard).
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("kdns_k8s_depth", default=0)


class Controller(Protocol):
    """The watch side: lists and watches the API into a Sink (controller.py)."""

    async def start(self) -> None:
        """Begin listing and watching."""
        ...

    async def stop(self) -> None:
        """Stop every watch."""
        ...


ControllerFactory = Callable[[KubernetesConfig, Sink], Controller]


def default_controller() -> ControllerFactory | None:
    """Return the watch controller's class, or None while controller.py does not exist."""
    name = "kdns.plugins.kubernetes.controller"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
    factory: ControllerFactory = module.Controller
    return factory


def _bind_hosts(ctx: BuildContext) -> list[str]:
    hosts: list[str] = []
    for config in ctx.configs.get("bind", ()):
        listen = getattr(config, "listen_hosts", None)
        if callable(listen):
            hosts.extend(listen())
    return hosts


def _key(req: Request) -> Key:
    """Return the ready-answer key of a parsed request (what wire.query_key reads from bytes)."""
    question = req.msg.questions[0]
    qname = name_wire(tuple(question.qname.label)).lower()
    return (qname, req.qtype, req.qclass, req.do, bool(req.msg.header.cd))


def _spelled(req: Request, zone: str) -> str:
    """Return the zone as the client spelled it: answers and the SOA keep that spelling."""
    name = req.name
    return name[len(name) - len(zone) :] if len(name) == len(req.qname) else zone


class Kubernetes(Plugin[KubernetesConfig]):
    """Serves the cluster zones from an Index the watch controller keeps up to date.

    Attributes a test or the runtime may set before start: `index` (the data),
    `resolve` (lookups through the whole server), `local_ips` or `local_source` (the
    server's own addresses, for NS) and `make_controller` (None: no watch).
    """

    name = "kubernetes"

    def __init__(
        self,
        configs: tuple[KubernetesConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        #: Replies already computed, as bytes, until a watch event alters them (answers.py).
        self.answers = AnswerTable()
        #: Packs the commonest first query (a Service's A/AAAA) without the general way.
        self.direct = Direct(self.config)
        self._index: Index | None = None
        self.index = Index()
        self.resolve: Resolver | None = None
        self.local_ips: tuple[str, ...] = ()
        self.local_source: Callable[[], list[str]] | None = partial(own_addresses, _bind_hosts(ctx))
        self.make_controller: ControllerFactory | None = default_controller()
        self.controller: Controller | None = None
        #: The resolv.conf whose search domains end autopath's search paths (read at start).
        self.resolv_conf = autopath.RESOLV_CONF
        self.autopath_search: tuple[str, ...] = ()
        #: How many handlers use `controller` (handlers of equal config share it on reload).
        self._users = [0]

    @property
    def index(self) -> Index:
        """The data answers come from; the ready answers follow its changes."""
        assert self._index is not None
        return self._index

    @index.setter
    def index(self, index: Index) -> None:
        self._unlisten()
        self._index = index
        index.listeners.append(self.answers.changed)
        self.answers.changed(ALL)

    def _unlisten(self) -> None:
        old = self._index
        if old is not None and self.answers.changed in old.listeners:
            old.listeners.remove(self.answers.changed)

    # -- lifecycle -----------------------------------------------------------------------------

    def ready(self) -> bool:
        """Tell whether the first list of every watched kind has arrived."""
        return self.index.synced

    def adopt(self, old: object) -> bool:
        """Share the watch and synced index of an equal predecessor: a reload that leaves this
        block unchanged does not list the cluster again (CoreDNS re-lists on every reload)."""
        if not isinstance(old, Kubernetes) or old.configs != self.configs:
            return False
        if old.controller is None:
            return False
        self.index, self.controller, self._users = old.index, old.controller, old._users
        self._users[0] += 1
        return True

    async def start(self) -> None:
        """Learn the server's addresses, start the watch and wait up to startup_timeout for it."""
        if self.local_source is not None:
            self.local_ips = tuple(await asyncio.to_thread(self.local_source))
        if self.config.pods == "verified":
            self.autopath_search = await asyncio.to_thread(autopath.read_search, self.resolv_conf)
        if self.controller is not None or self.make_controller is None:
            return  # adopted a running watch, or told not to watch
        self.controller = self.make_controller(self.config, self.index)
        self._users = [1]
        await self.controller.start()
        synced = asyncio.Event()
        self.index.when_synced(synced.set)
        if synced.is_set():
            return
        log.info("waiting for Kubernetes API before starting server")
        try:
            async with asyncio.timeout(self.config.startup_timeout):
                await synced.wait()
        except TimeoutError:
            log.warning("starting server with unsynced Kubernetes API")

    async def stop(self) -> None:
        """Stop the watch, unless a successor still shares it."""
        self._unlisten()
        self.answers.changed(ALL)
        controller, self.controller = self.controller, None
        if controller is None:
            return
        self._users[0] -= 1
        if self._users[0] <= 0:
            await controller.stop()

    # -- what other plugins ask (transfer, autopath) ------------------------------------------

    def transfer(self, zone: str, serial: int = 0) -> list[dnslib.RR] | None:
        """Return the zone transfer of one of the plugin's zones (axfr.py), else None."""
        return zone_transfer(self.index, self.config, zone, serial, self.local_ips)

    def search_path(self, qname: str, remote_ip: str) -> list[str] | None:
        """Return the search path of the client Pod at `remote_ip` (autopath.py), or None."""
        return autopath.search_path(self.index, self.config, qname, remote_ip, self.autopath_search)

    def metadata(self, req: Request) -> dict[str, str]:
        """Return the `kubernetes/...` metadata of `req` (metadata.py), for *metadata*."""
        return request_metadata(self.index, self.config, req.qname, req.remote[0])

    # -- the fast path -------------------------------------------------------------------------

    def clock(self) -> float:
        """Return the time the fast path is asked at (ready answers do not age)."""
        return 0.0

    def fast_answer(
        self,
        key: Key,
        wire: bytes,
        now: float,
        server: str | None = None,
        remote: tuple[str, int] = ("0.0.0.0", 0),
        tcp: bool = False,
    ) -> bytes | None:
        """Answer a raw query from the ready answers, or None to send it down the chain.

        A Service's address is packed from the index (direct.py), fresh until a change of the
        Service. A name not ready yet is answered here as serve_dns would answer it, when that
        needs neither the next plugin nor a lookup (fallthrough, an ExternalName target outside
        the zones): the reply is filed as a ready answer and sent from the table. A query that
        needs the chain is remembered as such until the index changes, so it is not computed
        twice per query.
        """
        answers, index, synced = self.answers, self.index, self.index.synced
        if synced:  # a Service's address: packed straight from the index
            direct = self.direct.reply(index, key, wire)
            if direct is not None:
                answers.last = answers.held(direct[1])
                return direct[0]
        out = answers.render(key, wire, index.serial_for, tcp)
        if out is not None or not synced or key in answers.chain_only:
            return out
        req = Request(
            dnslib.DNSRecord.parse(wire),
            "tcp" if tcp else "udp",
            remote,
            size=len(wire),
            server=server or "",
        )
        zone = match_zone(self.config.zones, req.qname)
        if zone is not None:
            spelled = _spelled(req, zone)
            found = answer(index, self.config, req.name, req.qtype, spelled, self.local_ips)
            if self._answer_now(req, Capture(), spelled, found) is not None:
                out = answers.render(key, wire, index.serial_for, tcp)
        if out is None:  # the chain answers it (next plugin, a lookup, too big): once per change
            answers.needs_chain(key)
        return out

    def fast_reuse(self) -> tuple[Fresh, Callable[[int], None]] | None:
        """Return how long the ready answer just sent stays the same; it counts nothing more."""
        last = self.answers.last
        return None if last is None else (last, count_nothing)

    # -- queries -------------------------------------------------------------------------------

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Answer a name inside the zones (see the module doc); pass others on."""
        zone = match_zone(self.config.zones, req.qname)
        if zone is None:
            return await next_or_failure(self.name, self.next, req, w)
        ready = self.answers.reply(_key(req), req, self.index.serial_for)
        if ready is not None:  # computed before, and no watch event has touched it since
            req.answered_by = self.name
            w.write(ready)
            return int(ready.header.rcode)
        spelled = _spelled(req, zone)
        out = answer(self.index, self.config, req.name, req.qtype, spelled, self.local_ips)
        done = self._answer_now(req, w, spelled, out)
        if done is not None:
            return done
        if out.kind == "refused":
            return REFUSED
        if out.kind == "nxdomain":  # fallthrough covers the name: _answer_now left it to us
            return await next_or_failure(self.name, self.next, req, w)
        records, truncated = list(out.answer), False
        assert out.chase is not None
        chase = out.chase
        reply = await self._lookup(req, chase.target, chase.qtype)
        if reply is not None:
            records += [*chase.prefix, *reply.rr]
            truncated = bool(reply.header.tc)
        if not records:
            return self._negative(req, w, NOERROR, spelled, keep=False)
        return self._write(req, w, records, out.extra, truncated, keep=False)

    def _answer_now(
        self, req: Request, w: ResponseWriter, spelled: str, out: Outcome
    ) -> int | None:
        """Write `out` when the index alone gives the answer; None when serve_dns must go on
        (REFUSED, fallthrough to the next plugin, an ExternalName target to look up)."""
        if out.kind == "refused" or out.chase is not None:
            return None
        if out.kind == "nxdomain":
            fall = self.config.fallthrough
            if fall is not None and fall.covers(req.qname):
                return None
            if not self.index.synced:
                self._negative(req, w, SERVFAIL, spelled)
                return NOERROR  # written: the client has its SERVFAIL
            return self._negative(req, w, NXDOMAIN, spelled)
        if not out.answer:
            return self._negative(req, w, NOERROR, spelled)
        return self._write(req, w, list(out.answer), out.extra, False)

    def _keep(self, req: Request, reply: dnslib.DNSRecord) -> None:
        """File a reply computed from the index alone as a ready answer (not before sync)."""
        if not self.index.synced:
            return
        key = _key(req)
        zone = match_zone(self.config.zones, req.qname) or "."
        scope = scope_of(req.qname, zone, reply)
        self.answers.store(key, reply, scope, self.config.is_multicluster(zone))

    def _negative(
        self, req: Request, w: ResponseWriter, rcode: int, zone: str, *, keep: bool = True
    ) -> int:
        reply = req.reply(rcode, aa=True)
        serial = self.index.serial_for(self.config.is_multicluster(zone))
        reply.add_auth(soa_rr(self.config, zone, serial))
        req.answered_by = self.name
        if keep and rcode != SERVFAIL:
            self._keep(req, reply)
        w.write(reply)
        return rcode

    def _write(
        self,
        req: Request,
        w: ResponseWriter,
        records: list[dnslib.RR],
        extra: list[dnslib.RR],
        truncated: bool,
        *,
        keep: bool = True,
    ) -> int:
        reply = req.reply(NOERROR, aa=True)
        reply.rr = records
        reply.ar = list(extra)
        if truncated:
            reply.header.tc = 1
        req.answered_by = self.name
        if keep and not truncated:
            self._keep(req, reply)
        w.write(reply)
        return NOERROR

    async def _lookup(self, req: Request, target: str, qtype: int) -> dnslib.DNSRecord | None:
        """Resolve an ExternalName target on the client's behalf; None when that failed."""
        if self.resolve is not None:
            try:
                return await self.resolve(target, qtype)
            except Exception:  # CoreDNS drops the CNAME when its lookup errs
                log.debug("resolving an ExternalName target failed", target=target, exc_info=True)
                return None
        depth = _DEPTH.get()
        if depth >= MAX_CNAMES:
            return None
        msg = dnslib.DNSRecord(q=dnslib.DNSQuestion(target, qtype))
        msg.add_ar(dnslib.EDNS0(udp_len=req.udp_size, flags="do" if req.do else ""))
        wire = packed(msg)
        sub = Request(
            dnslib.DNSRecord.parse(wire),
            req.proto,
            req.remote,
            req.local,
            size=len(wire),
            server=req.server,
            zone=req.zone,
        )
        own = match_zone(self.config.zones, sub.qname) is not None
        capture = Capture()
        token = _DEPTH.set(depth + 1)
        try:
            if own:
                rcode = await self.serve_dns(sub, capture)
            else:
                rcode = await next_or_failure(self.name, self.next, sub, capture)
        except PluginError as exc:
            rcode = exc.rcode
        finally:
            _DEPTH.reset(token)
        return capture.reply if capture.reply is not None else sub.reply(rcode)
