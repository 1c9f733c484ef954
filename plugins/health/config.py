"""health: syntax and defaults, as CoreDNS's health plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import duration, join_host_port, listen_address, single

DEFAULT_PORT = 8080


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Where /health listens (host "" means every address) and how long to linger on shutdown."""

    host: str = ""
    port: int = DEFAULT_PORT
    lameduck: float = 0.0

    @property
    def address(self) -> str:
        """Return the listen address as `HOST:PORT` (IPv6 hosts in brackets)."""
        return join_host_port(self.host, self.port)


def parse(d: Directive, ctx: BlockContext) -> HealthConfig:
    """Parse `health [ADDRESS] { lameduck DURATION }`."""
    host, port = listen_address(d, ("", DEFAULT_PORT), "health address")
    config = HealthConfig(host, port)
    for prop in d.properties():
        if prop.keyword != "lameduck":
            raise prop.unknown(("lameduck",))
        lameduck = duration(single(prop, "DURATION"), minimum=0, what="lameduck duration")
        config = replace(config, lameduck=lameduck)
    return config
