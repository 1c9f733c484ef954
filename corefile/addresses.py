"""Server block keys to zone addresses: transport, zone, port; CIDR keys to reverse zones."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from kdns.corefile.errors import CorefileError
from kdns.corefile.syntax_tree import Word

Transport = Literal["dns", "tls", "quic", "grpc", "https3", "https", "unix"]

#: Checked in this order, as CoreDNS does: a literal, case-sensitive prefix.
TRANSPORTS: tuple[Transport, ...] = ("tls", "dns", "quic", "grpc", "https3", "https", "unix")
DEFAULT_PORTS: dict[Transport, int] = {
    "dns": 53,
    "tls": 853,
    "quic": 853,
    "grpc": 443,
    "https": 443,
    "https3": 443,
    "unix": 0,
}
#: The transports kdns serves; CoreDNS's others are recognised but refused by `kdns serve`.
SERVED_TRANSPORTS: tuple[Transport, ...] = ("dns", "tls", "https")
#: Served transports whose listeners need a server certificate (the tls plugin).
CERTIFICATE_TRANSPORTS: tuple[Transport, ...] = ("tls", "https")


@dataclass(frozen=True, slots=True)
class ZoneAddress:
    """One zone a server block serves: `transport://zone:port`, from one key."""

    transport: Transport
    zone: str
    port: int
    key: Word

    def __str__(self) -> str:
        return f"{self.transport}://{self.zone}:{self.port}"


def is_domain_name(name: str) -> bool:
    """Tell whether `name` is a syntactically valid domain name (as miekg/dns judges)."""
    if name == ".":
        return True
    if not name or name.startswith("."):
        return False
    labels = name.rstrip(".").split(".") if name.endswith(".") else name.split(".")
    if name.endswith("..") or any(not label for label in labels):
        return False
    if any(len(label.encode()) > 63 for label in labels):
        return False
    return sum(len(label.encode()) + 1 for label in labels) + 1 <= 255


def fqdn(name: str) -> str:
    """Return `name` lower-cased and fully qualified."""
    name = name.lower()
    return name if name.endswith(".") else name + "."


def reverse_zones(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    """Return the reverse zones covering `network`, split on octet or nibble boundaries."""
    step = 8 if network.version == 4 else 4
    suffix = "in-addr.arpa." if network.version == 4 else "ip6.arpa."
    boundary = -(-network.prefixlen // step) * step
    subnets = [network] if boundary == network.prefixlen else network.subnets(new_prefix=boundary)
    zones = []
    for net in subnets:
        labels = boundary // step
        if net.version == 4:
            parts = str(net.network_address).split(".")[:labels]
        else:
            parts = list(net.network_address.exploded.replace(":", ""))[:labels]
        zones.append(".".join([*reversed(parts), suffix]) if parts else suffix)
    return zones


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Return the network written as `ADDR/PREFIX` (host bits masked), or None if it is not one."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def zone_names(word: Word, what: str = "zone") -> list[str]:
    """Normalise a zone argument: fully qualified, lower case; a CIDR expands to reverse zones."""
    net = parse_cidr(word.text)
    if net is not None:
        return reverse_zones(net)
    if not is_domain_name(word.text):
        raise CorefileError(f"{what} '{word.text}' is not a valid domain name", word.pos)
    return [fqdn(word.text)]


def split_key(word: Word, default_port: int = 53) -> list[ZoneAddress]:
    """Parse one server block key `[scheme://]zone[:port]` into the zones it serves."""
    text = word.text
    if text.endswith("{"):
        raise CorefileError(
            f"'{text}' ends in '{{': put a space before '{{' to open the block", word.pos
        )
    transport: Transport = "dns"
    for scheme in TRANSPORTS:
        if text.startswith(scheme + "://"):
            transport, text = scheme, text[len(scheme) + 3 :]
            break
    else:
        if "://" in text:
            prefix = text.split("://", 1)[0]
            raise CorefileError(
                f"unknown transport '{prefix}://' in '{word.text}': use dns://, tls://, "
                "https://, grpc:// or quic://",
                word.pos,
            )
    host, port = text, DEFAULT_PORTS[transport] if transport != "dns" else default_port
    if ":" in text:
        head, _, tail = text.rpartition(":")
        if not tail:
            raise CorefileError(
                f"'{word.text}' ends in ':': write the port after it, or drop the colon", word.pos
            )
        if _is_port_text(tail):
            host, port = head, int(tail)
            if not 0 <= port <= 65535:
                raise CorefileError(f"port {tail} in '{word.text}' is out of range", word.pos)
    if len(host) > 255:
        raise CorefileError(f"zone in '{word.text}' is too long: {len(host)} > 255", word.pos)
    net = parse_cidr(host)
    if net is not None:
        if host.startswith(":") or (host.startswith("0") and ":" in host):
            raise CorefileError(f"invalid CIDR '{host}'", word.pos)
        return [ZoneAddress(transport, z, port, word) for z in reverse_zones(net)]
    if not host:
        raise CorefileError(
            f"'{word.text}' has no zone: write '.{word.text}' to serve every name", word.pos
        )
    if not is_domain_name(host):
        raise CorefileError(f"zone '{host}' in '{word.text}' is not a valid domain name", word.pos)
    return [ZoneAddress(transport, fqdn(host), port, word)]


def _is_port_text(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.isascii() and body.isdigit()
