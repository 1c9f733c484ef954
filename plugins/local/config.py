"""local: syntax and defaults, as CoreDNS's local plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import choice, single


@dataclass(frozen=True, slots=True)
class LocalConfig:
    """Whether `localhost.<domain>` names are answered as `localhost.` is."""

    localhost_prefix: bool = True


def parse(d: Directive, ctx: BlockContext) -> LocalConfig:
    """Parse `local { localhost_prefix on|off }`."""
    d.no_args()
    config = LocalConfig()
    for prop in d.properties():
        match prop.keyword:
            case "localhost_prefix":
                value = choice(single(prop, "on or off"), ("on", "off"), "localhost_prefix value")
                config = LocalConfig(localhost_prefix=value == "on")
            case _:
                raise prop.unknown(("localhost_prefix",))
    return config
