"""forward: the connections cached per upstream and protocol, reused until they expire."""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: The protocols a connection is cached under (the `proto` label of the cache metrics).
PROTOCOLS = ("udp", "tcp", "tcp-tls", "https")


@dataclass(slots=True)
class DatagramConn:
    """A connected UDP socket to one upstream."""

    sock: socket.socket
    created: float
    used: float

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


@dataclass(slots=True)
class StreamConn:
    """A TCP (or TLS) connection to one upstream."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    created: float
    used: float

    def close(self) -> None:
        """Close the connection (without waiting for the peer)."""
        self.writer.close()


Conn = DatagramConn | StreamConn


class ConnPool:
    """Idle connections per protocol, oldest first, as CoreDNS's transport keeps them.

    A connection is taken for one exchange and given back after it. One unused for longer
    than `expire`, or older than `max_age` (when set), is closed instead of reused; at most
    `max_idle` are kept per protocol (0: no cap).
    """

    __slots__ = ("clock", "closed", "expire", "idle", "max_age", "max_idle")

    def __init__(
        self,
        expire: float,
        *,
        max_age: float = 0.0,
        max_idle: int = 0,
        clock: Callable[[], float],
    ) -> None:
        self.expire = expire
        self.max_age = max_age
        self.max_idle = max_idle
        self.clock = clock
        self.closed = False
        self.idle: dict[str, deque[Conn]] = {p: deque() for p in PROTOCOLS}

    def _stale(self, conn: Conn, now: float) -> bool:
        if now - conn.used > self.expire:
            return True
        return self.max_age > 0 and now - conn.created > self.max_age

    def take(self, proto: str) -> Conn | None:
        """Return the oldest usable idle connection for `proto`, closing stale ones; or None."""
        queue = self.idle[proto]
        if not queue:
            return None
        now = self.clock()
        while queue:
            conn = queue.popleft()
            if self._stale(conn, now):
                conn.close()
                continue
            return conn
        return None

    def give(self, proto: str, conn: Conn) -> None:
        """Keep `conn` for reuse (or close it when the pool is closed or full)."""
        queue = self.idle[proto]
        if self.closed or (self.max_idle and len(queue) >= self.max_idle):
            conn.close()
            return
        conn.used = self.clock()
        queue.append(conn)

    def sweep(self) -> None:
        """Close every idle connection that could no longer be reused."""
        now = self.clock()
        for queue in self.idle.values():
            keep = [c for c in queue if not self._stale(c, now)]
            if len(keep) != len(queue):
                for conn in queue:
                    if self._stale(conn, now):
                        conn.close()
                queue.clear()
                queue.extend(keep)

    def size(self, proto: str) -> int:
        """Return the number of idle connections kept for `proto`."""
        return len(self.idle[proto])

    def close(self) -> None:
        """Close every idle connection; connections given back later are closed too."""
        self.closed = True
        for queue in self.idle.values():
            while queue:
                queue.popleft().close()
