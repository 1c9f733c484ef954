"""root: syntax. One path; when written twice in a block, the last one wins."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import Args


@dataclass(frozen=True, slots=True)
class RootConfig:
    """The base directory for relative paths, as written (it is not checked at parse time)."""

    path: str


def parse(d: Directive, ctx: BlockContext) -> RootConfig:
    """Parse `root PATH`."""
    d.no_block()
    args = Args(d)
    path = args.next("PATH").text
    args.end()
    for earlier in ctx.earlier:
        if isinstance(earlier, RootConfig):
            ctx.warn(
                d.name.pos,
                f"'root' was already set to '{earlier.path}' in this server block; "
                "this one replaces it",
            )
    return RootConfig(path)
