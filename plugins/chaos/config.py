"""chaos: syntax and defaults, as CoreDNS's chaos plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive

#: A TXT character-string holds at most 255 bytes; CoreDNS cuts longer values.
MAX_TXT = 255


@dataclass(frozen=True, slots=True)
class ChaosConfig:
    """What `version.bind.` and `authors.bind.` answer.

    `version` None means the server's own name and version; empty `authors` means the
    built-in list of authors.
    """

    version: str | None = None
    authors: tuple[str, ...] = ()


def _trim(text: str) -> str:
    return text if len(text) <= MAX_TXT else text[:MAX_TXT]


def parse(d: Directive, ctx: BlockContext) -> ChaosConfig:
    """Parse `chaos [VERSION] [AUTHORS...]`."""
    d.no_block()
    if ctx.earlier:
        ctx.warn(
            d.name.pos, "only the first 'chaos' of a server block is read; this one is ignored"
        )
    if not d.args:
        return ChaosConfig()
    version = _trim(d.args[0].text)
    # CoreDNS removes repeated authors and sorts the rest.
    authors = tuple(sorted({_trim(w.text) for w in d.args[1:]}))
    return ChaosConfig(version, authors)
