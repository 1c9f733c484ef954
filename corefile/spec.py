"""What a plugin tells the Corefile loader: its name, its pure parse, and how it may appear."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kdns.corefile.addresses import ZoneAddress
from kdns.corefile.ast import Directive
from kdns.corefile.errors import Diagnostic, Position

#: served: kdns runs it; parsed: kdns checks its syntax but cannot serve it yet;
#: unsupported: a CoreDNS plugin kdns recognises but does not implement.
Support = Literal["served", "parsed", "unsupported"]


@dataclass(slots=True)
class BlockContext:
    """What a plugin's parse may know about the server block its directive sits in."""

    addresses: tuple[ZoneAddress, ...]
    warnings: list[Diagnostic] = field(default_factory=list)
    plugin: str | None = None
    #: Configs parsed from earlier occurrences of the same plugin in this block.
    earlier: tuple[object, ...] = ()

    @property
    def zones(self) -> tuple[str, ...]:
        """Return the block's zones, fully qualified, in key order, without repeats."""
        return tuple(dict.fromkeys(a.zone for a in self.addresses))

    def warn(self, pos: Position, message: str) -> None:
        """Record a warning for the checker (the load still succeeds)."""
        self.warnings.append(Diagnostic("warning", pos, message, self.plugin))


#: A plugin's parse: directive in, frozen config out; pure (no I/O, no globals).
ParseFn = Callable[[Directive, BlockContext], object]


@dataclass(frozen=True, slots=True)
class PluginSpec:
    """A directive the Corefile loader knows.

    `once` rejects a second occurrence in one server block, as CoreDNS does for that plugin.
    """

    name: str
    parse: ParseFn
    once: bool = False
    support: Support = "parsed"
    #: Shown for unsupported plugins and for parsed ones: why kdns cannot serve it.
    note: str = ""
    #: False for server-level directives (bind, reload, health...) that never see a query.
    in_chain: bool = True
    #: Makes the handler from the block's configs of this plugin: `(configs, next, ctx)`.
    #: Typed loosely here because the Corefile stage knows nothing of handlers
    #: (kdns.plugins.base.BuildFn is the real signature).
    build: Callable[..., Any] | None = None
