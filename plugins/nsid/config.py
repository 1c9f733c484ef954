"""nsid: syntax and defaults, as CoreDNS's nsid plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive


@dataclass(frozen=True, slots=True)
class NsidConfig:
    """The identifier to return; None means the host name, read when the handler is built."""

    data: str | None = None


def parse(d: Directive, ctx: BlockContext) -> NsidConfig:
    """Parse `nsid [DATA...]` (several words are joined with single spaces)."""
    d.no_block()
    if not d.args:
        return NsidConfig()
    return NsidConfig(" ".join(w.text for w in d.args))
