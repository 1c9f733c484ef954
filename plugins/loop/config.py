"""loop: syntax. The directive takes no arguments and no block."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """The zone the loop probe is sent under: the server block's first zone."""

    zone: str = "."


def parse(d: Directive, ctx: BlockContext) -> LoopConfig:
    """Parse `loop`."""
    d.bare()
    return LoopConfig(ctx.zones[0] if ctx.zones else ".")
