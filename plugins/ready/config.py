"""ready: syntax and defaults, as CoreDNS's ready plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import choice, join_host_port, listen_address, single

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
        return join_host_port(self.host, self.port)


def parse(d: Directive, ctx: BlockContext) -> ReadyConfig:
    """Parse `ready [ADDRESS] { monitor until-ready|continuously }`."""
    host, port = listen_address(d, ("", DEFAULT_PORT), "ready address")
    config = ReadyConfig(host, port)
    for prop in d.properties():
        if prop.keyword != "monitor":
            raise prop.unknown(("monitor",))
        monitor = choice(single(prop, "until-ready or continuously"), MONITORS, "monitor type")
        config = replace(config, monitor=monitor)
    return config
