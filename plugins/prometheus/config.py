"""prometheus: syntax and defaults, as CoreDNS's metrics plugin reads them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, CorefileError, Directive
from kdns.corefile.syntax import join_host_port, listen_address, single

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 9153


@dataclass(frozen=True, slots=True)
class PrometheusConfig:
    """Where /metrics listens, the zones whose queries are counted, and export options.

    `tls_config` is the path of a Prometheus web configuration file (stored, not read) that
    turns /metrics into HTTPS. `runtime_metrics` is a process-wide switch: one block enables
    it for all.
    """

    zones: tuple[str, ...]
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    runtime_metrics: bool = False
    tls_config: str | None = None

    @property
    def address(self) -> str:
        """Return the listen address as `HOST:PORT` (IPv6 hosts in brackets)."""
        return join_host_port(self.host, self.port)


def parse(d: Directive, ctx: BlockContext) -> PrometheusConfig:
    """Parse `prometheus [ADDRESS] { runtime_metrics; tls CONFIG_FILE }`."""
    host, port = listen_address(d, (DEFAULT_HOST, DEFAULT_PORT), "metrics address")
    config = PrometheusConfig(zones=ctx.zones, host=host, port=port)
    tls_at: Directive | None = None
    for prop in d.properties():
        match prop.keyword:
            case "runtime_metrics":
                prop.bare()
                config = replace(config, runtime_metrics=True)
            case "tls":
                if tls_at is not None:
                    raise CorefileError(
                        f"'tls' is already given at line {tls_at.pos.line}: give it once",
                        prop.pos,
                    )
                tls_at = prop
                config = replace(config, tls_config=single(prop, "CONFIG_FILE").text)
            case _:
                raise prop.unknown(("runtime_metrics", "tls"))
    return config
