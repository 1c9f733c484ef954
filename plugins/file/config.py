"""file: syntax and defaults, as CoreDNS's file plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import Args, Fallthrough, duration, fallthrough, flag, single, zones

PROPERTIES = ("reload", "reload_by_mtime", "fallthrough", "upstream")


@dataclass(frozen=True, slots=True)
class FileConfig:
    """A zone file served for `zones`, each zone reading the file with itself as origin."""

    path: str
    zones: tuple[str, ...]
    reload: float = 60.0
    reload_by_mtime: bool = False
    fallthrough: Fallthrough | None = None


def parse(d: Directive, ctx: BlockContext) -> FileConfig:
    """Parse `file DBFILE [ZONES...] { ... }`."""
    args = Args(d)
    path = args.next("zone file (DBFILE)")
    config = FileConfig(path=path.text, zones=zones(args.rest(), ctx))
    for prop in d.properties():
        match prop.keyword:
            case "reload":
                word = single(prop, "DURATION (0 disables reloading)")
                config = replace(config, reload=duration(word, minimum=0, what="reload duration"))
            case "reload_by_mtime":
                config = replace(config, reload_by_mtime=flag(prop))
            case "fallthrough":
                config = replace(config, fallthrough=fallthrough(prop))
            case "upstream":
                prop.no_block()
                ctx.warn(
                    prop.pos,
                    "'upstream' is ignored: CNAME targets are always resolved through the "
                    "server itself; remove the line",
                )
            case "transfer":
                raise CorefileError(
                    "'transfer' inside file was removed in CoreDNS 1.7.0: use the transfer "
                    "plugin in this server block ('transfer { to ... }')",
                    prop.pos,
                )
            case _:
                raise prop.unknown(PROPERTIES)
    return config
