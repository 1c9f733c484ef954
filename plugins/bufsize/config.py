"""bufsize: syntax and defaults, as CoreDNS's bufsize plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import Args, integer

#: The size DNS Flag Day 2020 recommends, so answers fit an unfragmented packet.
DEFAULT_SIZE = 1232
#: RFC 6891 bounds: 512 is the classic DNS limit, 4096 the common EDNS0 maximum.
MIN_SIZE = 512
MAX_SIZE = 4096


@dataclass(frozen=True, slots=True)
class BufsizeConfig:
    """The UDP payload size, in bytes, that requests are limited to."""

    size: int = DEFAULT_SIZE


def parse(d: Directive, ctx: BlockContext) -> BufsizeConfig:
    """Parse `bufsize [SIZE]`."""
    d.no_block()
    if ctx.earlier:
        ctx.warn(
            d.name.pos, "only the first 'bufsize' of a server block is read; this one is ignored"
        )
    args = Args(d)
    word = args.optional()
    args.end()
    if word is None:
        return BufsizeConfig()
    return BufsizeConfig(integer(word, minimum=MIN_SIZE, maximum=MAX_SIZE, what="buffer size"))
