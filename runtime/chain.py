"""Building a server block's plugin chain from the model, in the fixed execution order."""

from __future__ import annotations

from collections.abc import Mapping

from kdns.corefile import PluginSpec, ServerBlock
from kdns.plugins.base import BuildContext, Handler, PluginError


class BuildError(Exception):
    """A Corefile that loads but cannot be served; the message says why and where."""


def plugin_groups(block: ServerBlock) -> list[tuple[str, tuple[object, ...]]]:
    """Return each plugin of the block with its configs, in execution order."""
    groups: dict[str, list[object]] = {}
    for entry in block.plugins:
        groups.setdefault(entry.name, []).append(entry.config)
    return [(name, tuple(configs)) for name, configs in groups.items()]


def build_chain(
    block: ServerBlock, registry: Mapping[str, PluginSpec], servers: tuple[str, ...]
) -> tuple[Handler | None, list[Handler]]:
    """Fold the block's handler plugins into a chain; return its head and every handler.

    The head is None for a block with no handler plugin (its queries are REFUSED). Plugins
    outside the chain that have a build (health, ready) are in the handler list too, so the
    runtime can find their capabilities.
    """
    groups = plugin_groups(block)
    ctx = BuildContext(zones=block.zones, configs=dict(groups), servers=servers)
    for name, _ in groups:
        spec = registry[name]
        if spec.support == "unsupported":
            pos = next(e.pos for e in block.plugins if e.name == name)
            raise BuildError(f"{pos}: plugin/{name}: kdns does not serve this CoreDNS plugin")
        if spec.in_chain and spec.build is None:
            pos = next(e.pos for e in block.plugins if e.name == name)
            raise BuildError(f"{pos}: plugin/{name}: kdns cannot serve this plugin yet")
    head: Handler | None = None
    handlers: list[Handler] = []
    for name, configs in reversed(groups):
        spec = registry[name]
        if spec.build is None:
            continue
        try:
            if spec.in_chain:
                head = spec.build(configs, head, ctx)
                handlers.append(head)
            else:  # a side service (health, ready): built, started and stopped, never queried
                handlers.append(spec.build(configs, None, ctx))
        except PluginError as exc:
            pos = next(e.pos for e in block.plugins if e.name == name)
            raise BuildError(f"{pos}: {exc}") from None
    handlers.reverse()
    return head, handlers
