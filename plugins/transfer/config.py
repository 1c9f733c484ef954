"""transfer: syntax, as CoreDNS's transfer plugin reads it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.syntax import Args, host_port, ip_address, several, single, zones

PROPERTIES = ("to", "source")


@dataclass(frozen=True, slots=True)
class TransferConfig:
    """Who may transfer `zones` (AXFR/IXFR) and where NOTIFY messages are sent.

    `anyone` is `to *`; `to` holds the addresses (IP, port) that may transfer and get NOTIFY.
    """

    zones: tuple[str, ...]
    to: tuple[tuple[str, int], ...] = ()
    anyone: bool = False
    source: str | None = None

    def allows(self, client: str) -> bool:
        """Tell whether a client IP may transfer these zones."""
        if self.anyone:
            return True
        try:
            ip = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(ipaddress.ip_address(host) == ip for host, _ in self.to)


def _address(word: Word) -> tuple[str, int]:
    """Read `IP` or `IP:PORT` (`[IPv6]:PORT`, or a bare IPv6 address); the port defaults to 53."""
    try:
        return str(ipaddress.ip_address(word.text)), 53
    except ValueError:
        pass
    host, number = host_port(word, default_port=53, what="transfer address")
    ip = ip_address(word.with_text(host), "IP address (transfer 'to' takes addresses, not names)")
    return str(ip), number


def parse(d: Directive, ctx: BlockContext) -> TransferConfig:
    """Parse `transfer [ZONES...] { to ADDRESS...; source ADDRESS }`."""
    config = TransferConfig(zones=zones(Args(d).rest(), ctx))
    for prop in d.properties():
        match prop.keyword:
            case "to":
                words = several(prop, "address or '*'")
                found = list(config.to)
                for word in words:
                    if word.text == "*":
                        config = replace(config, anyone=True)
                    else:
                        found.append(_address(word))
                config = replace(config, to=tuple(dict.fromkeys(found)))
            case "source":
                word = single(prop, "source IP address")
                config = replace(config, source=str(ip_address(word, "source IP address")))
            case _:
                raise prop.unknown(PROPERTIES)
    if not config.anyone and not config.to:
        raise CorefileError(
            "'to' is required: add 'to ADDRESS...' (or 'to *') in a block after 'transfer'",
            d.pos,
        )
    return config
