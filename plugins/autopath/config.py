"""autopath: syntax, as CoreDNS's autopath plugin reads it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import zones

#: Plugins that can hand autopath a search path (CoreDNS's AutoPather interface).
SEARCH_PATH_PLUGINS = ("kubernetes",)

_PLUGIN_NAME = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True, slots=True)
class AutopathConfig:
    """Where autopath takes the search path from, for the zones it covers.

    Exactly one of `resolv_conf` (a resolv.conf-like file whose `search` line is used; read at
    start, not at parse) and `plugin` (a plugin asked per query, such as `kubernetes`) is set.
    """

    zones: tuple[str, ...]
    resolv_conf: str | None = None
    plugin: str | None = None


def parse(d: Directive, ctx: BlockContext) -> AutopathConfig:
    """Parse `autopath [ZONES...] RESOLV-CONF` (RESOLV-CONF is a path or `@PLUGIN`)."""
    d.no_block()
    if not d.args:
        raise CorefileError(
            "missing RESOLV-CONF after 'autopath': write a resolv.conf path or @kubernetes",
            d.pos,
        )
    *zone_words, source = d.args
    covered = zones(zone_words, ctx)
    if not source.text.startswith("@"):
        return AutopathConfig(covered, resolv_conf=source.text)
    name = source.text[1:]
    if not _PLUGIN_NAME.fullmatch(name):
        raise CorefileError(
            f"'{source.text}' does not name a plugin: write @ and the plugin, as in @kubernetes",
            source.pos,
        )
    if name not in SEARCH_PATH_PLUGINS:
        ctx.warn(
            source.pos,
            f"plugin '{name}' cannot provide a search path (only "
            f"{', '.join(SEARCH_PATH_PLUGINS)} can), so autopath will fail to start - use "
            "@kubernetes or a resolv.conf file",
        )
    return AutopathConfig(covered, plugin=name)
