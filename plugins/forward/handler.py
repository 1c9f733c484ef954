"""forward: the handler: which queries a stanza takes, upstream order, retries and replies."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Sequence
from typing import cast

import dnslib

from kdns.plugins.base import (
    FORMERR,
    NOERROR,
    REFUSED,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.forward.client import CachedClosed, Proxy, ProxyOptions, UpstreamError
from kdns.plugins.forward.config import MAX_UPSTREAMS, ForwardConfig, TlsClient
from kdns.plugins.forward.metrics import HEALTHCHECK_BROKEN, MAX_CONCURRENT_REJECTS
from kdns.plugins.forward.resolve import StartupError, lookup, nameservers
from kdns.plugins.forward.upstream import ResolvConf, Upstream
from kdns.plugins.wire import packed

#: CoreDNS's overall deadline for one query, across every upstream tried.
DEFAULT_TIMEOUT = 5.0
#: The longest pause between two sweeps of expired cached connections.
MAX_SWEEP_INTERVAL = 10.0


class Forward(Plugin[ForwardConfig]):
    """One forward stanza; several stanzas of a block are chained in written order."""

    name = "forward"
    #: The `proxy_name` label of the coredns_proxy_* metrics.
    proxy_name = "forward"
    #: forward lets queries of every class through (CH included), as CoreDNS does.
    any_class = True

    def __init__(
        self, configs: tuple[ForwardConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        c = self.config
        self.from_zone = c.from_zone
        self._from_suffix = "" if c.from_zone == "." else "." + c.from_zone
        self._ignored = tuple((z, "" if z == "." else "." + z) for z in c.ignored)
        self.max_fails = c.max_fails
        self.max_concurrent = c.max_concurrent
        self.max_attempts = c.max_connect_attempts
        self.failfast = c.failfast_all_unhealthy_upstreams
        self.failover_rcodes = frozenset(c.failover_rcodes)
        self.next_rcodes = frozenset(c.next_rcodes)
        self.force_tcp, self.prefer_udp = c.force_tcp, c.prefer_udp and not c.force_tcp
        #: The overall deadline of one query (seconds); tests shorten it.
        self.timeout = DEFAULT_TIMEOUT
        #: On the first stanza of a block: every stanza, to start and stop them together.
        self.group: tuple[Forward, ...] = ()
        self.options = ProxyOptions(
            proxy_name=self.proxy_name,
            expire=c.expire,
            max_age=c.max_age,
            max_idle=c.max_idle_conns,
            read_timeout=c.read_timeout,
            source_address=c.source_address,
            hc_interval=c.health_check.interval,
            hc_recursion_desired=c.health_check.recursion_desired,
            hc_domain=c.health_check.domain,
            hc_tcp=c.force_tcp,
            doh_method=c.doh_method,
        )
        # Addresses are known now; files and hostnames are read and resolved in start().
        self._static = tuple(self._proxy(u) for u in c.upstreams() if not u.hostname)
        self.proxies: tuple[Proxy, ...] = self._static
        self.concurrent = 0
        self._robin = 0
        self._sweeper: asyncio.Task[None] | None = None
        self._order()

    def _proxy(self, up: Upstream, host: str | None = None) -> Proxy:
        server_name = up.server_name or self.config.tls_servername
        if server_name is None and up.hostname:
            server_name = up.host
        return Proxy(
            host or up.host,
            up.port,
            up.transport,
            options=self.options,
            server_hostname=server_name,
        )

    def _order(self) -> None:
        """Precompute the upstream orders the policy hands out, so a query only picks one."""
        p = self.proxies
        self._pair = (p, p[::-1]) if len(p) == 2 else (p, p)
        # CoreDNS's round robin: the chosen upstream, then the others in written order.
        self._rotations = tuple((p[i], *p[:i], *p[i + 1 :]) for i in range(len(p)))

    def upstreams(self) -> Sequence[Proxy]:
        """Return the upstreams in the order this query tries them (the policy)."""
        p = self.proxies
        policy = self.config.policy
        if policy == "sequential" or len(p) < 2:
            return p
        if policy == "round_robin":
            self._robin += 1
            return self._rotations[self._robin % len(p)]
        if len(p) == 2:
            return self._pair[random.getrandbits(1)]
        return random.sample(p, len(p))

    def match(self, qname: str) -> bool:
        """Tell whether this stanza forwards `qname`: below FROM and not below an except."""
        zone = self.from_zone
        if qname == zone:
            return True
        if self._from_suffix and not qname.endswith(self._from_suffix):
            return False
        for ignored, suffix in self._ignored:
            if not suffix or qname == ignored or qname.endswith(suffix):
                return False
        return True

    # -- queries ---------------------------------------------------------------------------
    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Forward the query if this stanza matches it, else pass it on."""
        if not self.match(req.qname):
            return await next_or_failure(self.name, self.next, req, w)
        limit = self.max_concurrent
        if not limit:
            return await self._forward(req, w)
        self.concurrent += 1
        try:
            if self.concurrent > limit:
                MAX_CONCURRENT_REJECTS.inc()
                raise PluginError(
                    self.name, f"concurrent queries exceeded maximum {limit}", rcode=REFUSED
                )
            return await self._forward(req, w)
        finally:
            self.concurrent -= 1

    async def _exchange(self, proxy: Proxy, wire: bytes, proto: str, size: int) -> dnslib.DNSRecord:
        while True:
            try:
                data = await proxy.connect(wire, proto, size)
            except CachedClosed:
                continue  # the upstream closed a reused connection: take another
            if data[2] & 0x02 and proto == "udp" and self.prefer_udp:
                proto = "tcp"  # truncated: prefer_udp retries over TCP
                continue
            try:
                return dnslib.DNSRecord.parse(data)
            except Exception as exc:
                raise UpstreamError(f"dns: bad reply from {proxy.addr}: {exc}") from None

    async def _forward(self, req: Request, w: ResponseWriter) -> int:
        proxies = self.upstreams()
        n = len(proxies)
        if n == 0:
            raise PluginError(self.name, "no forwarder defined")
        wire = packed(req.msg)
        proto = "tcp" if self.force_tcp else "udp" if self.prefer_udp else req.proto
        size = req.udp_size
        clock = asyncio.get_running_loop().time
        deadline = clock() + self.timeout
        i = fails = attempts = 0
        error: str | None = None
        while clock() < deadline and (not self.max_attempts or attempts < self.max_attempts):
            if i >= n:
                i = fails = 0
            proxy = proxies[i]
            i += 1
            if proxy.down(self.max_fails):
                fails += 1
                if fails < n:
                    continue
                HEALTHCHECK_BROKEN.inc()
                if self.failfast:
                    break
                proxy = random.choice(self.proxies)  # health checking must be broken
            try:
                reply = await self._exchange(proxy, wire, proto, size)
            except UpstreamError as exc:
                error = str(exc)
                if self.max_fails:
                    proxy.healthcheck()
                # A refused UDP port on this host fails without ever waiting: without a
                # pause, retrying until the deadline would hold the whole event loop (every
                # other query, and the health checks that would take the upstream out).
                await asyncio.sleep(0)
                if self.max_attempts:
                    attempts += 1
                    if attempts >= self.max_attempts:
                        break
                if fails < n:
                    continue
                break
            if not _answers(req, reply):
                req.answered_by = self.name
                w.write(req.reply(FORMERR))
                return NOERROR
            rcode = reply.header.rcode
            if rcode in self.failover_rcodes and fails < n:
                fails += 1
                continue
            if isinstance(self.next, Forward) and (
                rcode in self.next_rcodes
                or (self.config.next_on_nodata and rcode == NOERROR and not reply.rr)
            ):
                return await self.next.serve_dns(req, w)
            req.answered_by = self.name
            w.write(reply)
            return NOERROR
        raise PluginError(self.name, error or "no healthy proxies")

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Read resolv.conf files, resolve hostnames, set up TLS, for every stanza."""
        try:
            for stanza in self.group or (self,):
                await stanza._start_own()
        except BaseException:
            await self.stop()
            raise

    async def _start_own(self) -> None:
        c = self.config
        proxies: list[Proxy] = []
        static = iter(self._static)
        try:
            for target in c.to:
                if isinstance(target, ResolvConf):
                    for ip in nameservers(target.path):
                        proxies.append(self._proxy(Upstream(ip, 53)))
                elif not target.hostname:
                    proxies.append(next(static))
            for target in c.upstreams():
                if target.hostname:
                    for ip in await lookup(target.host, c.resolvers):
                        proxies.append(self._proxy(target, ip))
        except StartupError as exc:
            raise PluginError(self.name, str(exc)) from None
        if len(proxies) > MAX_UPSTREAMS:
            raise PluginError(
                self.name, f"more than {MAX_UPSTREAMS} TOs configured: {len(proxies)}"
            )
        contexts: dict[str, ssl.SSLContext] = {}
        for proxy in proxies:
            if proxy.transport != "dns":
                if proxy.transport not in contexts:
                    contexts[proxy.transport] = self._ssl_context(proxy.transport)
                proxy.ssl = contexts[proxy.transport]
        self.proxies = tuple(proxies)
        self._order()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def _ssl_context(self, transport: str) -> ssl.SSLContext:
        tls = self.config.tls or TlsClient()
        try:
            context = ssl.create_default_context(cafile=tls.ca)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if tls.cert:
                context.load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as exc:
            raise PluginError(self.name, f"tls: {exc}") from None
        if transport == "https":
            context.set_alpn_protocols(["http/1.1"])
        return context

    async def _sweep(self) -> None:
        """Close cached connections that expired, as CoreDNS's transport does every expire."""
        interval = min(max(self.config.expire, 0.05), MAX_SWEEP_INTERVAL)
        while True:
            await asyncio.sleep(interval)
            for proxy in self.proxies:
                proxy.pool.sweep()

    async def stop(self) -> None:
        """Stop health checks and close every cached connection, for every stanza."""
        for stanza in self.group or (self,):
            await stanza._stop_own()

    async def _stop_own(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for proxy in {*self.proxies, *self._static}:
            proxy.stop()
            await proxy.wait_stopped()


def _answers(req: Request, reply: dnslib.DNSRecord) -> bool:
    """Tell whether `reply` is a response to `req`'s question (CoreDNS's request.Match)."""
    if not reply.header.qr or len(reply.questions) != 1:
        return False
    q = reply.questions[0]
    return bool(q.qtype == req.qtype and (str(q.qname) or ".").lower() == req.qname)


def chain(
    cls: type[Forward], configs: Sequence[ForwardConfig], nxt: Handler | None, ctx: BuildContext
) -> Forward:
    """Build one handler per stanza, each passing to the next, the last to `nxt`."""
    head: Handler | None = nxt
    stanzas: list[Forward] = []
    for config in reversed(configs):
        stanza = cls((config,), head, ctx)
        stanzas.append(stanza)
        head = cast(Handler, stanza)  # Plugin.name is a ClassVar, Handler.name an attribute
    stanzas.reverse()
    stanzas[0].group = tuple(stanzas)
    return stanzas[0]


def build(configs: tuple[ForwardConfig, ...], nxt: Handler | None, ctx: BuildContext) -> Forward:
    """Build the forward stanzas of a block, chained in the order they are written."""
    return chain(Forward, configs, nxt, ctx)
