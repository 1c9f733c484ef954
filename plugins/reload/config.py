"""reload: syntax and defaults, as CoreDNS's reload plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import Args, duration

DEFAULT_INTERVAL = 30.0
DEFAULT_JITTER = 15.0
MIN_INTERVAL = 2.0
MIN_JITTER = 1.0


def _show(seconds: float) -> str:
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class ReloadConfig:
    """Check the Corefile every `interval` seconds, shifted by up to ±`jitter`/2 per check.

    `jitter` is already capped at half the interval; 0 disables it.
    """

    interval: float = DEFAULT_INTERVAL
    jitter: float = DEFAULT_JITTER


def parse(d: Directive, ctx: BlockContext) -> ReloadConfig:
    """Parse `reload [INTERVAL] [JITTER]`."""
    d.no_block()
    args = Args(d)
    interval, jitter = DEFAULT_INTERVAL, DEFAULT_JITTER
    word = args.optional()
    if word is not None:
        interval = duration(word, what="reload interval")
        if interval < MIN_INTERVAL:
            raise CorefileError(
                f"reload interval '{word.text}' must be at least {_show(MIN_INTERVAL)}", word.pos
            )
    jitter_word = args.optional()
    if jitter_word is not None:
        jitter = duration(jitter_word, what="reload jitter")
        if jitter != 0 and jitter < MIN_JITTER:
            raise CorefileError(
                f"reload jitter '{jitter_word.text}' must be 0 (no jitter) or at least "
                f"{_show(MIN_JITTER)}",
                jitter_word.pos,
            )
    args.end()
    if jitter > interval / 2:
        if jitter_word is not None:
            ctx.warn(
                jitter_word.pos,
                f"jitter {_show(jitter)} is more than half the interval; "
                f"{_show(interval / 2)} is used",
            )
        jitter = interval / 2
    if ctx.earlier:
        ctx.warn(
            d.name.pos, "only the first 'reload' of a server block is read; this one is ignored"
        )
        first = ctx.earlier[0]
        assert isinstance(first, ReloadConfig)
        return first
    return ReloadConfig(interval, jitter)
