"""The plugin API: what a plugin package exports and the helpers its parse uses."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive, PluginSpec

__all__ = ["BlockContext", "Directive", "PluginSpec", "UnsupportedConfig", "unsupported"]


@dataclass(frozen=True, slots=True)
class UnsupportedConfig:
    """The directive of a CoreDNS plugin kdns recognises but does not implement, kept as is."""

    directive: Directive


def _keep(d: Directive, ctx: BlockContext) -> UnsupportedConfig:
    return UnsupportedConfig(d)


def unsupported(name: str, note: str = "") -> PluginSpec:
    """Return the spec for a CoreDNS plugin kdns does not implement: any syntax, a warning."""
    return PluginSpec(name, _keep, support="unsupported", note=note)
