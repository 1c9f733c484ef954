"""debug: syntax. The directive takes no arguments and no block."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive


@dataclass(frozen=True, slots=True)
class DebugConfig:
    """debug has nothing to configure: its presence is the setting."""


def parse(d: Directive, ctx: BlockContext) -> DebugConfig:
    """Parse `debug`."""
    d.bare()
    return DebugConfig()
