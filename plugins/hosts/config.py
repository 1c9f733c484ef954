"""hosts: syntax and defaults, as CoreDNS's hosts plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.errors import did_you_mean
from kdns.corefile.syntax import (
    Args,
    Fallthrough,
    duration,
    fallthrough,
    flag,
    integer,
    ip_address,
    name,
    several,
    single,
    zones,
)

PROPERTIES = ("ttl", "no_reverse", "reload", "fallthrough", "fallthrough_unsupported")


@dataclass(frozen=True, slots=True)
class HostsEntry:
    """One inline hosts line: an address and the names that resolve to it."""

    address: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HostsConfig:
    """Where the hosts data comes from and how it is served for `zones`."""

    zones: tuple[str, ...]
    path: str = "/etc/hosts"
    entries: tuple[HostsEntry, ...] = ()
    ttl: int = 3600
    no_reverse: bool = False
    reload: float = 5.0
    fallthrough: Fallthrough | None = None
    fallthrough_unsupported: bool = False


def _entry(line: Directive) -> HostsEntry:
    try:
        address = ip_address(line.name)
    except CorefileError:
        hint = did_you_mean(line.keyword, PROPERTIES)
        raise CorefileError(
            f"'{line.keyword}' is neither an IP address starting a hosts line nor a property"
            + (hint or f" - expected IP NAME... or one of: {', '.join(PROPERTIES)}"),
            line.pos,
        ) from None
    names = several(line, "host name")
    return HostsEntry(str(address), tuple(dict.fromkeys(name(w, "host name") for w in names)))


def parse(d: Directive, ctx: BlockContext) -> HostsConfig:
    """Parse `hosts [FILE [ZONES...]] { [INLINE ENTRIES] ... }`."""
    args = Args(d)
    path = args.optional()
    config = HostsConfig(zones=zones(args.rest(), ctx))
    if path is not None:
        config = replace(config, path=path.text)
    entries: list[HostsEntry] = []
    for prop in d.properties():
        match prop.keyword:
            case "ttl":
                word = single(prop, "TTL in seconds")
                config = replace(config, ttl=integer(word, minimum=1, maximum=65535, what="ttl"))
            case "no_reverse":
                config = replace(config, no_reverse=flag(prop))
            case "reload":
                word = single(prop, "DURATION (0 disables reloading)")
                config = replace(config, reload=duration(word, minimum=0, what="reload duration"))
            case "fallthrough":
                config = replace(config, fallthrough=fallthrough(prop))
            case "fallthrough_unsupported":
                config = replace(config, fallthrough_unsupported=flag(prop))
            case _ if config.fallthrough is not None:
                hint = did_you_mean(prop.keyword, PROPERTIES) or (
                    ": inline hosts lines must come before 'fallthrough'"
                )
                raise CorefileError(f"unknown property '{prop.keyword}'{hint}", prop.pos)
            case _:
                entries.append(_entry(prop))
    return replace(config, entries=tuple(entries))
