"""header: sets or clears header flags of queries and replies, as CoreDNS's header plugin does.

Query rules change the request before the rest of the chain sees it; response rules change
every reply the rest of the chain writes. Rules apply in order, so the last one for a flag
wins. A reply the server writes itself (a plugin returned SERVFAIL without writing) is not
changed, as in CoreDNS.
"""

from __future__ import annotations

import dnslib

from kdns.plugins.base import Plugin, Request, ResponseWriter, next_or_failure
from kdns.plugins.header.config import HeaderConfig, HeaderRule


def apply(header: dnslib.DNSHeader, rules: tuple[HeaderRule, ...]) -> None:
    """Set or clear the flags of `header` as `rules` say, in order."""
    for rule in rules:
        setattr(header, rule.flag, int(rule.state))


class HeaderWriter:
    """A writer that applies the response rules to each reply on its way out."""

    __slots__ = ("inner", "rules")

    def __init__(self, inner: ResponseWriter, rules: tuple[HeaderRule, ...]) -> None:
        self.inner = inner
        self.rules = rules

    def write(self, reply: dnslib.DNSRecord) -> None:
        """Apply the rules to `reply`'s header, then write it."""
        apply(reply.header, self.rules)
        self.inner.write(reply)


class Header(Plugin[HeaderConfig]):
    """Wraps the rest of the chain; never answers by itself."""

    name = "header"

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        """Apply the query rules, then pass the query on with a rule-applying writer."""
        config = self.config
        if config.query:
            apply(req.msg.header, config.query)
        if config.response:
            w = HeaderWriter(w, config.response)
        return await next_or_failure(self.name, self.next, req, w)
