"""view: the handler of a view's block; the runtime asks it which queries the block takes.

As in CoreDNS, the filtering happens before the chain runs: the runtime picks, among the
blocks serving a zone on a listener, the first whose view admits the query (blocks without a
view admit everything). In the chain itself *view* only passes the query on.
"""

from __future__ import annotations

import structlog

from kdns.plugins.base import Plugin, Request, ResponseWriter, next_or_failure
from kdns.plugins.view.config import ViewConfig

log = structlog.get_logger("plugin/view")


class View(Plugin[ViewConfig]):
    """Admits queries for which every expression of the view is true."""

    name = "view"

    def view_name(self) -> str:
        """Return the view's name (metrics label, `view/name` metadata)."""
        return self.config.name

    def admits(self, req: Request) -> bool:
        """Tell whether every expression holds for `req`; an evaluation error means no."""
        for program in self.config.programs:
            try:
                if not program(req):
                    return False
            except Exception as exc:  # a type error at query time: CoreDNS treats it as false
                log.debug(f"view {self.config.name}: expression failed: {exc}")
                return False
        return True

    def metadata(self, req: Request) -> dict[str, str]:
        """Publish `view/name` for queries this block serves."""
        return {"view/name": self.config.name}

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Pass the query on: the filtering already happened when the block was chosen."""
        return await next_or_failure(self.name, self.next, req, w)
