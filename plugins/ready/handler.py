"""ready: /ready answers 200 OK once every plugin that reports readiness is ready."""

from __future__ import annotations

import structlog

from kdns.plugins.base import BuildContext, Handler, Plugin, Route, ServerState
from kdns.plugins.ready.config import ReadyConfig

log = structlog.get_logger("plugin/ready")

CONTENT_TYPE = "text/plain; charset=utf-8"


class Ready(Plugin[ReadyConfig]):
    """Side service: serves /ready from what the running server says about readiness.

    With `monitor until-ready` a plugin that was seen ready is not reported again, and once
    every plugin was ready /ready answers OK without asking; `continuously` asks every time.
    """

    name = "ready"

    def __init__(
        self, configs: tuple[ReadyConfig, ...], nxt: Handler | None, ctx: BuildContext
    ) -> None:
        super().__init__(configs, nxt, ctx)
        self.continuously = self.config.monitor == "continuously"
        #: Plugins seen not ready that have been ready since (until-ready only).
        self.was_ready: set[str] = set()
        self.seen_not_ready: set[str] = set()
        self.all_ready = False

    def http_address(self) -> tuple[str, int]:
        """Return where /ready listens."""
        return (self.config.host, self.config.port)

    def http_routes(self) -> dict[str, Route]:
        """Serve /ready."""
        return {"/ready": self.respond}

    def respond(self, state: ServerState) -> tuple[int, str, bytes]:
        """Answer /ready: 200 OK, 503 with the plugins not ready, or 503 while shutting down."""
        if state.stopping:
            return 503, CONTENT_TYPE, b"Shutting down"
        if self.all_ready:
            return 200, CONTENT_TYPE, b"OK"
        not_ready = state.not_ready()
        if not self.continuously:
            now = set(not_ready)
            self.was_ready |= self.seen_not_ready - now
            self.seen_not_ready |= now
            not_ready = [name for name in not_ready if name not in self.was_ready]
            self.all_ready = not not_ready
        if not not_ready:
            return 200, CONTENT_TYPE, b"OK"
        names = ",".join(sorted(not_ready))
        log.info(f'Plugins not ready: "{names}"')
        return 503, CONTENT_TYPE, names.encode()
