"""prometheus: counts every query of its server block and serves /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from kdns.plugins.base import (
    NOT_WRITTEN,
    SERVFAIL,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Recorder,
    Request,
    ResponseWriter,
    Route,
    ServerState,
    next_or_failure,
)
from kdns.plugins.metrics import PANICS
from kdns.plugins.order import NOT_IN_CHAIN
from kdns.plugins.prometheus.config import PrometheusConfig
from kdns.plugins.prometheus.exposition import CONTENT_TYPE, render
from kdns.plugins.prometheus.metrics import (
    BUILD_INFO,
    DO_REQUESTS,
    DURATION,
    PLUGIN_ENABLED,
    REQUEST_SIZE,
    REQUESTS,
    RESPONSE_SIZE,
    RESPONSES,
    build_labels,
    rcode_label,
    type_label,
)

#: How many running prometheus handlers claim each coredns_plugin_enabled series: a reload
#: starts the new generation before the old one stops, and only series no generation claims
#: any more disappear (CoreDNS resets the gauge on restart).
_ENABLED_CLAIMS: dict[tuple[str, ...], int] = {}


def metrics_route(state: ServerState) -> tuple[int, str, bytes]:
    """Answer GET /metrics with the text exposition of every kdns metric."""
    return 200, CONTENT_TYPE, render()


class Prometheus(Plugin[PrometheusConfig]):
    """Wraps the rest of the chain, recording each query and its reply as CoreDNS does."""

    name = "prometheus"
    #: Does nothing to an answer served from bytes but what observe() counts.
    fast_transparent = True

    def __init__(
        self, configs: tuple[PrometheusConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        #: The clock request durations are measured with (tests substitute their own).
        self.clock: Callable[[], float] = time.perf_counter
        if self.config.tls_config is not None:
            raise PluginError(
                self.name,
                f"tls {self.config.tls_config}: kdns cannot serve /metrics over HTTPS yet; "
                "remove 'tls' and put a TLS proxy in front",
            )
        zones = self.config.zones or ctx.zones or (".",)
        self.zones = frozenset(zones)
        #: The zone label when the block has one zone (the common case): no lookup per query.
        self.only_zone = zones[0] if len(zones) == 1 else None
        view = ""
        for cfg in ctx.configs.get("view", ()):
            view = str(getattr(cfg, "name", ""))
        names = [name for name in ctx.configs if name not in NOT_IN_CHAIN]
        self.enabled = [
            (server, zone, view, name)
            for server in ctx.servers
            for zone in ctx.zones
            for name in names
        ]
        BUILD_INFO.set(build_labels(), 1)
        PANICS.inc((), 0.0)  # exported as 0 from the start, as CoreDNS does

    # -- capabilities ------------------------------------------------------------------------
    def http_address(self) -> tuple[str, int]:
        """Return where /metrics listens."""
        return (self.config.host, self.config.port)

    def http_routes(self) -> dict[str, Route]:
        """Serve /metrics."""
        return {"/metrics": metrics_route}

    async def start(self) -> None:
        """Publish coredns_plugin_enabled for the plugins of this block."""
        for labels in self.enabled:
            _ENABLED_CLAIMS[labels] = _ENABLED_CLAIMS.get(labels, 0) + 1
            PLUGIN_ENABLED.set(labels, 1)

    async def stop(self) -> None:
        """Withdraw this block's coredns_plugin_enabled series no running block still has."""
        for labels in self.enabled:
            left = _ENABLED_CLAIMS.get(labels, 0) - 1
            if left > 0:
                _ENABLED_CLAIMS[labels] = left
            else:
                _ENABLED_CLAIMS.pop(labels, None)
                PLUGIN_ENABLED.remove(labels)

    # -- the query path ----------------------------------------------------------------------
    def zone_of(self, qname: str) -> str:
        """Return the longest zone of the block that holds `qname` (`.` when none does)."""
        only = self.only_zone
        if only is not None:
            return only
        zones, name = self.zones, qname
        while name not in zones:
            if name == ".":
                return "."
            name = name[name.find(".") + 1 :] or "."
        return name

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Pass the query on through a recorder, then count it, its reply and its duration."""
        start = self.clock()
        rec = Recorder(w)
        try:
            status = await next_or_failure(self.name, self.next, req, rec)
        except PluginError:
            self._report(req, rec, w, SERVFAIL, start)
            raise
        self._report(req, rec, w, status, start)
        return status

    def _report(
        self, req: Request, rec: Recorder, w: ResponseWriter, status: int, start: float
    ) -> None:
        reply = rec.reply
        if reply is None:
            rcode, plugin, size = (status if status in NOT_WRITTEN else 0), "", 0
        else:
            rcode = status if status in NOT_WRITTEN else int(reply.header.rcode)
            plugin = req.answered_by
            # The bytes the client got: the runtime writer may tell; else encode again (the
            # writer has already truncated the reply and fixed its OPT, so this is that size).
            size = getattr(w, "size", 0) or len(reply.pack())
        self.observe(
            req.server,
            self.zone_of(req.qname),
            req.view,
            req.proto,
            "2" if ":" in req.remote[0] else "1",
            req.qtype,
            req.do,
            req.size,
            size,
            rcode,
            plugin,
            self.clock() - start,
        )

    @staticmethod
    def observe(
        server: str,
        zone: str,
        view: str,
        proto: str,
        family: str,
        qtype: int,
        do: bool,
        request_size: int,
        response_size: int,
        rcode: int,
        plugin: str,
        seconds: float,
        count: int = 1,
    ) -> None:
        """Count `count` queries answered alike (also what the fast path calls)."""
        if do:
            DO_REQUESTS.inc((server, zone, view), count)
        REQUESTS.inc((server, zone, view, proto, family, type_label(qtype)), count)
        DURATION.observe((server, zone, view), seconds, count)
        RESPONSE_SIZE.observe((server, zone, view, proto), response_size, count)
        REQUEST_SIZE.observe((server, zone, view, proto), request_size, count)
        RESPONSES.inc((server, zone, view, rcode_label(rcode), plugin), count)
