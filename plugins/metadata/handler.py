"""metadata: collects the values plugins publish about a query into `req.meta`.

Providers are the plugins of the same server block that implement `MetadataProvider` (in
kdns: *view*, which publishes `view/name`, and *kubernetes*, `kubernetes/...`). The runtime
also collects before it evaluates a block's view, so `metadata('LABEL')` works in view
expressions, as in CoreDNS.
"""

from __future__ import annotations

from kdns.corefile.syntax import in_zones
from kdns.plugins.base import (
    BuildContext,
    Handler,
    MetadataProvider,
    Plugin,
    Request,
    ResponseWriter,
    chain_from,
    next_or_failure,
)
from kdns.plugins.metadata.config import MetadataConfig


def providers_after(handler: Handler | None) -> tuple[MetadataProvider, ...]:
    """Return the metadata providers of a chain, from `handler` to its end, in chain order."""
    return tuple(h for h in chain_from(handler) if isinstance(h, MetadataProvider))


class Metadata(Plugin[MetadataConfig]):
    """Fills `req.meta` for queries in its zones, then passes them on."""

    name = "metadata"
    #: Only plugins behind it read the metadata; an answer known in advance needs none.
    fast_transparent = True

    def __init__(
        self, configs: tuple[MetadataConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.zones = tuple(dict.fromkeys(z for c in configs for z in c.zones))
        # metadata is first in the chain order, so everything behind it is built already.
        self.providers = providers_after(nxt)

    def collect_metadata(self, req: Request) -> None:
        """Add every provider's values for `req` to `req.meta` (only inside the zones)."""
        if not self.providers or not in_zones(req.qname, self.zones):
            return
        for provider in self.providers:
            req.meta.update(provider.metadata(req))

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Collect the metadata, then pass the query on."""
        self.collect_metadata(req)
        return await next_or_failure(self.name, self.next, req, w)
