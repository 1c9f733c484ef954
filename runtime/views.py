"""Views on a listener: which block of a zone takes a query, and keeping the fast path out.

Several server blocks may serve the same zone on one listener when they carry a *view*. The
route of such a block gets `admit`: it collects the block's metadata (so `metadata('...')`
works in expressions, as CoreDNS collects before filtering) and asks the block's filters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kdns.plugins.base import Debugging, MetadataCollector, Request, RequestFilter
from kdns.runtime.dispatch import Route, ZoneMux


def gated(route: Route, handlers: Sequence[object]) -> Route:
    """Give `route` its block's view (name and admission test) and debug setting; return it."""
    route.debug = any(isinstance(h, Debugging) and h.debugging() for h in handlers)
    filters = [h for h in handlers if isinstance(h, RequestFilter)]
    if not filters:
        return route
    collectors = [h for h in handlers if isinstance(h, MetadataCollector)]
    route.view = filters[0].view_name()
    route.admit = _admission(tuple(collectors), tuple(filters))
    return route


def _admission(
    collectors: tuple[MetadataCollector, ...], filters: tuple[RequestFilter, ...]
) -> Callable[[Request], bool]:
    def admit(req: Request) -> bool:
        for collector in collectors:
            collector.collect_metadata(req)
        return all(f.admits(req) for f in filters)

    return admit


def fence(mux: ZoneMux) -> None:
    """Order the blocks of zones a view serves and keep the fast path away from them.

    Blocks with a view are tried first, in file order, then the one without (CoreDNS 1.14.3+
    accepts them in any order). Answers in such a zone depend on who asks, so its fast-path
    entry is replaced by a route without fast answerers (not removed: a missing entry would
    let the fast path answer from the parent zone's block instead).
    """
    viewed = set()
    for zone, routes in mux.routes.items():
        if any(r.admit for r in routes):
            routes.sort(key=lambda r: r.admit is None)
            viewed.add(zone)
    for key, route in list(mux.wire_routes.items()):
        if route.zone in viewed:
            mux.set_fast_route(key, Route(route.zone, route.chain, route.block))


__all__ = ["fence", "gated"]
