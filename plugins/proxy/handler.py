"""proxy: served by forward's handler; of several stanzas the longest matching FROM wins."""

from __future__ import annotations

from kdns.plugins.base import BuildContext, Handler
from kdns.plugins.forward.handler import Forward, chain
from kdns.plugins.proxy.config import ProxyConfig


class Proxy(Forward):
    """A proxy stanza, forwarding as forward does (errors read `plugin/proxy: ...`)."""

    name = "proxy"
    proxy_name = "proxy"


def build(configs: tuple[ProxyConfig, ...], nxt: Handler | None, ctx: BuildContext) -> Forward:
    """Build the proxy stanzas of a block as forward stanzas, longest FROM first.

    CoreDNS's proxy picked the stanza with the longest matching FROM; tried longest first,
    the first stanza that matches is that one (equal FROMs keep their written order).
    """
    stanzas = sorted((c.as_forward() for c in configs), key=lambda f: -len(f.from_zone))
    return chain(Proxy, stanzas, nxt, ctx)
