"""ready: syntax and defaults, as CoreDNS's ready plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import Args, choice, host_port

DEFAULT_PORT = 8181

Monitor = Literal["until-ready", "continuously"]
MONITORS: tuple[Monitor, ...] = ("until-ready", "continuously")


@dataclass(frozen=True, slots=True)
class ReadyConfig:
    """Where /ready listens (host "" means every address) and how readiness is polled.

    `until-ready` stops asking a plugin once it was ready; `continuously` asks every time.
    """

    host: str = ""
    port: int = DEFAULT_PORT
    monitor: Monitor = "until-ready"

    @property
    def address(self) -> str:
        """Return the listen address as `HOST:PORT` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse(d: Directive, ctx: BlockContext) -> ReadyConfig:
    """Parse `ready [ADDRESS] { monitor until-ready|continuously }`."""
    args = Args(d)
    config = ReadyConfig()
    word = args.optional()
    if word is not None:
        host, port = host_port(word, what="ready address")
        config = replace(config, host=host, port=port)
    args.end()
    for prop in d.properties():
        if prop.keyword != "monitor":
            raise prop.unknown(("monitor",))
        prop.no_block()
        pargs = Args(prop)
        monitor = choice(pargs.next("until-ready or continuously"), MONITORS, "monitor type")
        pargs.end()
        config = replace(config, monitor=monitor)
    return config
