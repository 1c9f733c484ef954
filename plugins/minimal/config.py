"""minimal: syntax. The directive takes no arguments and no block."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive


@dataclass(frozen=True, slots=True)
class MinimalConfig:
    """minimal has nothing to configure."""


def parse(d: Directive, ctx: BlockContext) -> MinimalConfig:
    """Parse `minimal`."""
    d.bare()
    return MinimalConfig()
