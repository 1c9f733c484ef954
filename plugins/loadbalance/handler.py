"""loadbalance: a writer around the rest of the chain that reorders successful replies.

As in CoreDNS, only NOERROR replies to queries other than AXFR and IXFR are touched.
`round_robin` shuffles the answer, authority and additional sections, then `prefer` moves
addresses in the given networks first (answer and additional only). `weighted` draws the first
address of the answer and additional sections of A, AAAA and SRV replies from the weight file,
which start() reads and a background task re-reads every `reload`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import dnslib
import structlog

from kdns.corefile.syntax import IPNetwork
from kdns.plugins.base import (
    NOERROR,
    BuildContext,
    Handler,
    Plugin,
    PluginError,
    Request,
    ResponseWriter,
    next_or_failure,
)
from kdns.plugins.loadbalance.config import LoadbalanceConfig
from kdns.plugins.loadbalance.fast import WireReorder
from kdns.plugins.loadbalance.shuffle import RandBelow, prefer, round_robin
from kdns.plugins.loadbalance.weights import (
    WeightFile,
    WeightFileError,
    WeightOpenError,
    weighted_section,
    weighted_types,
)

log = structlog.get_logger("plugin/loadbalance")

AXFR, IXFR = 252, 251
_RANDOM = random.Random()


def go_duration(seconds: float) -> str:
    """Format seconds as Go's time.Duration prints them (`30s`, `1m30s`, `500ms`)."""
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text


class ShuffleWriter:
    """Reorders a reply on its way to the wrapped writer."""

    __slots__ = ("inner", "reorder")

    def __init__(self, inner: ResponseWriter, reorder: Callable[[dnslib.DNSRecord], None]) -> None:
        self.inner = inner
        self.reorder = reorder

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Reorder `reply` if it is a successful non-transfer reply, then pass it on."""
        if reply.header.rcode == NOERROR and reply.questions:
            qtype = reply.questions[0].qtype
            if qtype != AXFR and qtype != IXFR:
                self.reorder(reply)
        self.inner.write(reply)


class Loadbalance(Plugin[LoadbalanceConfig]):
    """Wraps the writer of the rest of the chain; never answers by itself."""

    name = "loadbalance"

    def __init__(
        self,
        configs: tuple[LoadbalanceConfig, ...],
        nxt: Handler | None,
        ctx: BuildContext,
        *,
        randbelow: RandBelow = _RANDOM.randrange,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(configs, nxt, ctx)
        #: The random source: randbelow(n) is in [0, n). Tests replace it.
        self.randbelow = randbelow
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        # Several `loadbalance` lines in a block: CoreDNS reads them in turn into one state, so
        # the last policy wins, a `weighted` line resets the preferred networks, and the weight
        # file of the last `weighted` line is read at startup even if round_robin comes later.
        self.weight_file: WeightFile | None = None
        self.reload = 0.0
        self.prefer: tuple[IPNetwork, ...] = ()
        for config in configs:
            if config.policy == "weighted" and config.weight_file is not None:
                self.weight_file = WeightFile(config.weight_file)
                self.reload, self.prefer = config.reload, ()
            else:
                self.prefer += config.prefer
        self.reorder: Callable[[dnslib.DNSRecord], None]
        if configs[-1].policy == "weighted":
            self.reorder = self._weighted
        elif self.prefer:
            self.reorder = self._round_robin_prefer
        else:
            self.reorder = self._round_robin
        self._wire = WireReorder(self._round_robin, lambda: self.randbelow)

    def fast_transform(self) -> Callable[[bytes], bytes] | None:
        """Return the round_robin reordering on reply bytes (other policies stay on the chain)."""
        return self._wire if self.reorder == self._round_robin else None

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Call the next plugin with a writer that reorders what it writes."""
        return await next_or_failure(self.name, self.next, req, ShuffleWriter(w, self.reorder))

    # -- policies ------------------------------------------------------------------------------

    def _round_robin(self, reply: dnslib.DNSRecord) -> None:
        rand = self.randbelow
        reply.rr = round_robin(reply.rr, rand)
        reply.auth = round_robin(reply.auth, rand)
        reply.ar = round_robin(reply.ar, rand)

    def _round_robin_prefer(self, reply: dnslib.DNSRecord) -> None:
        self._round_robin(reply)
        nets = self.prefer
        reply.rr = prefer(reply.rr, nets)
        reply.ar = prefer(reply.ar, nets)

    def _weighted(self, reply: dnslib.DNSRecord) -> None:
        assert self.weight_file is not None
        if not weighted_types(reply.questions[0].qtype):
            return
        weights, rand = self.weight_file.weights, self.randbelow
        reply.rr = weighted_section(reply.rr, weights, rand)
        reply.ar = weighted_section(reply.ar, weights, rand)

    # -- the weight file -----------------------------------------------------------------------

    async def start(self) -> None:
        """Read the weight file (weighted policy) and start re-reading it every `reload`."""
        if self.weight_file is None:
            return
        reload = self.reload
        try:
            self._update()
        except WeightOpenError as exc:
            if not reload:
                raise PluginError(self.name, str(exc)) from None
            log.warning(
                f"Failed to open weight file:{exc}. Will try again in {go_duration(reload)}"
            )
        except WeightFileError as exc:
            raise PluginError(self.name, str(exc)) from None
        if reload:
            self._task = asyncio.create_task(self._watch(reload), name="loadbalance weights")

    async def stop(self) -> None:
        """Stop re-reading the weight file."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _update(self) -> None:
        assert self.weight_file is not None
        if self.weight_file.update():
            log.info(f"Successfully reloaded weight file {self.weight_file.path}")

    async def _watch(self, every: float) -> None:
        while True:
            await self._sleep(every)
            try:
                self._update()
            except WeightFileError as exc:
                log.error(str(exc))
