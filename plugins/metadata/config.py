"""metadata: syntax, as CoreDNS's metadata plugin reads it."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import Args, zones


@dataclass(frozen=True, slots=True)
class MetadataConfig:
    """The zones whose queries get metadata (the server block's zones by default)."""

    zones: tuple[str, ...]


def parse(d: Directive, ctx: BlockContext) -> MetadataConfig:
    """Parse `metadata [ZONES...]`."""
    found = zones(Args(d).rest(), ctx)
    for prop in d.properties():
        if prop.keyword == "map":
            raise CorefileError(
                "kdns does not support 'map' (CoreDNS 1.14's request-to-metadata mappings) yet: "
                "remove the block",
                prop.pos,
            )
        raise prop.unknown(())
    return MetadataConfig(found)
