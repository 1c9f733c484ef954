"""bind: syntax, as CoreDNS's bind plugin reads it.

Interface names are only resolved to addresses when the server starts, so parse keeps the
words as written: IP addresses and names that look like interface names.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kdns.corefile import BlockContext, CorefileError, Directive, Word

_IFACE = re.compile(r"[A-Za-z0-9_.:-]+")


@dataclass(frozen=True, slots=True)
class BindConfig:
    """The hosts (IPs or interface names) to listen on, and those to leave out.

    `exclude` is applied again after interface names are expanded to their addresses.
    """

    hosts: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def listen_hosts(self) -> tuple[str, ...]:
        """Return the hosts to listen on, without the excluded ones written as such."""
        return tuple(h for h in self.hosts if h not in self.exclude)

    def excluded_hosts(self) -> tuple[str, ...]:
        """Return the hosts written under `except`."""
        return self.exclude


def _host(word: Word) -> str:
    text = word.text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if _IFACE.fullmatch(text):
        return text
    raise CorefileError(f"'{text}' is not a valid IP address or interface name", word.pos)


def _hosts(words: Iterable[Word]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_host(w) for w in words))


def parse(d: Directive, ctx: BlockContext) -> BindConfig:
    """Parse `bind ADDRESS|IFACE... { except ADDRESS|IFACE... }`."""
    if not d.args:
        raise CorefileError(
            "missing address or interface name after 'bind': at least one is expected",
            d.name.pos,
        )
    hosts = _hosts(d.args)
    exclude: tuple[str, ...] = ()
    for prop in d.properties():
        match prop.keyword:
            case "except":
                prop.no_block()
                if not prop.args:
                    raise CorefileError(
                        "missing address or interface name after 'except'", prop.name.pos
                    )
                exclude = tuple(dict.fromkeys((*exclude, *_hosts(prop.args))))
            case _:
                raise prop.unknown(("except",))
    return BindConfig(hosts, exclude)
