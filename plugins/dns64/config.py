"""dns64: syntax and defaults, as CoreDNS's dns64 plugin reads them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from kdns.corefile import BlockContext, CorefileError, Directive, Word
from kdns.corefile.syntax import Args, flag, single

#: The well-known NAT64 prefix of RFC 6052.
DEFAULT_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")

PROPERTIES = ("prefix", "translate_all", "allow_ipv4")


@dataclass(frozen=True, slots=True)
class Dns64Config:
    """The prefix AAAA records are synthesised under, and when to synthesise."""

    prefix: ipaddress.IPv6Network = DEFAULT_PREFIX
    #: Translate even when the name has AAAA records of its own.
    translate_all: bool = False
    #: Translate for queries that came in over IPv4 too (default: IPv6 only).
    allow_ipv4: bool = False


def prefix(word: Word) -> ipaddress.IPv6Network:
    """Read an IPv6 prefix `ADDR/LEN` with LEN one of 32, 40, 48, 56, 64 or 96."""
    text = word.text
    if "/" not in text:
        raise CorefileError(
            f"prefix '{text}' has no length: write it as ADDRESS/LENGTH, such as 64:ff9b::/96",
            word.pos,
        )
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise CorefileError(
            f"'{text}' is not a valid IPv6 prefix: write ADDRESS/LENGTH, such as 64:ff9b::/96",
            word.pos,
        ) from None
    if not isinstance(net, ipaddress.IPv6Network):
        raise CorefileError(
            f"prefix '{text}' is IPv4: dns64 needs an IPv6 prefix, such as 64:ff9b::/96",
            word.pos,
        )
    if net.prefixlen % 8 or not 32 <= net.prefixlen <= 96:
        raise CorefileError(
            f"prefix length /{net.prefixlen} in '{text}' is not allowed: use 32, 40, 48, 56, "
            "64 or 96",
            word.pos,
        )
    return net


def parse(d: Directive, ctx: BlockContext) -> Dns64Config:
    """Parse `dns64 [PREFIX] { prefix PREFIX; translate_all; allow_ipv4 }`."""
    args = Args(d)
    config = Dns64Config()
    word = args.optional()
    if word is not None:
        config = replace(config, prefix=prefix(word))
    args.end()
    for prop in d.properties():
        match prop.keyword:
            case "prefix":
                config = replace(config, prefix=prefix(single(prop, "PREFIX")))
            case "translate_all":
                config = replace(config, translate_all=flag(prop))
            case "allow_ipv4":
                config = replace(config, allow_ipv4=flag(prop))
            case _:
                raise prop.unknown(PROPERTIES)
    return config
