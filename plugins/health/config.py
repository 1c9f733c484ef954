"""health: syntax and defaults, as CoreDNS's health plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, Directive
from kdns.corefile.syntax import Args, duration, host_port

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
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse(d: Directive, ctx: BlockContext) -> HealthConfig:
    """Parse `health [ADDRESS] { lameduck DURATION }`."""
    args = Args(d)
    config = HealthConfig()
    word = args.optional()
    if word is not None:
        host, port = host_port(word, what="health address")
        config = replace(config, host=host, port=port)
    args.end()
    for prop in d.properties():
        if prop.keyword != "lameduck":
            raise prop.unknown(("lameduck",))
        prop.no_block()
        pargs = Args(prop)
        lameduck = duration(pargs.next("DURATION"), minimum=0, what="lameduck duration")
        pargs.end()
        config = replace(config, lameduck=lameduck)
    return config
