"""any: syntax. The directive takes no arguments and no block."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive


@dataclass(frozen=True, slots=True)
class AnyConfig:
    """any has nothing to configure."""


def parse(d: Directive, ctx: BlockContext) -> AnyConfig:
    """Parse `any`."""
    d.bare()
    return AnyConfig()
