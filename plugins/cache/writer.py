"""cache: the response writer that stores what the next plugin writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dnslib

from kdns.plugins.base import NOERROR, NXDOMAIN, Request, ResponseWriter
from kdns.plugins.wire import Key

if TYPE_CHECKING:
    from kdns.plugins.cache.handler import Cache


class CacheWriter:
    """Stores what the next plugin writes, then passes it on with the capped TTLs.

    With no inner writer it only stores (prefetch); with `verify` it passes on and stores
    only NOERROR and NXDOMAIN replies (serve_stale verify), noting whether one came.
    """

    __slots__ = ("cache", "inner", "key", "refreshed", "req", "verify")

    def __init__(
        self,
        cache: Cache,
        req: Request,
        inner: ResponseWriter | None,
        key: Key,
        *,
        verify: bool = False,
    ) -> None:
        self.cache = cache
        self.req = req
        self.inner = inner
        self.key = key
        self.verify = verify
        self.refreshed = False

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Store `reply` if it may be cached and, unless prefetching, send it on."""
        if self.verify:
            self.refreshed = reply.header.rcode in (NOERROR, NXDOMAIN)
            if not self.refreshed:
                return
        self.cache.store(self.req, self.key, reply, prefetch=self.inner is None)
        if self.inner is not None:
            self.inner.write(reply)
