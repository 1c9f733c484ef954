"""Side HTTP listeners (health, ready, metrics): kept across reloads, routes swapped in place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from kdns.plugins.base import Route, ServerState

log = structlog.get_logger("kdns.server")

REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HttpPool:
    """HTTP servers by (host, port); each serves whatever routes the running config gives it."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.servers: dict[tuple[str, int], asyncio.Server] = {}
        self.routes: dict[tuple[str, int], dict[str, Route]] = {}
        #: Awaited with the path before a route answers (the workers' supervisor gathers
        #: their readiness and metrics first).
        self.before: Callable[[str], Awaitable[None]] | None = None

    async def open_missing(self, addresses: set[tuple[str, int]]) -> list[tuple[str, int]]:
        """Open servers for new addresses; on failure close those opened and raise."""
        opened = []
        try:
            for address in sorted(addresses - self.servers.keys()):
                host, port = address
                self.servers[address] = await asyncio.start_server(
                    self._handler(address), host or None, port, reuse_address=True
                )
                opened.append(address)
        except BaseException:
            for address in opened:
                self.servers.pop(address).close()
            raise
        return opened

    def swap(self, routes: dict[tuple[str, int], dict[str, Route]]) -> None:
        """Serve `routes` from now on; close servers no longer wanted."""
        self.routes = routes
        for address in list(self.servers.keys() - routes.keys()):
            self.servers.pop(address).close()

    def close_all(self) -> None:
        """Close every HTTP server."""
        self.swap({})

    def bound_port(self, address: tuple[str, int]) -> int:
        """Return the port actually bound (when the config asked for 0)."""
        return int(self.servers[address].sockets[0].getsockname()[1])

    def _handler(
        self, address: tuple[str, int]
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                async with asyncio.timeout(5.0):
                    head = await reader.readuntil(b"\r\n\r\n")
                method, path = ([*head.split(b"\r\n", 1)[0].decode("latin-1").split(" "), "", ""])[
                    :2
                ]
                path = path.split("?", 1)[0]
                route = self.routes.get(address, {}).get(path)
                if route is not None and self.before is not None:
                    await self.before(path)
                if route is None:
                    status, ctype, body = 404, "text/plain", b"404 page not found\n"
                elif method not in ("GET", "HEAD"):
                    status, ctype, body = 405, "text/plain", b"method not allowed\n"
                else:
                    status, ctype, body = route(self.state)
                reason = REASONS.get(status, "")
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + (body if method != "HEAD" else b"")
                )
                await writer.drain()
            except (
                TimeoutError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ConnectionError,
                UnicodeDecodeError,
            ):
                pass
            except Exception:
                log.exception("http handler failed", address=address)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

        return handle
