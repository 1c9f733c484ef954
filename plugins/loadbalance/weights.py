"""loadbalance: the weighted policy's weight file and the choice of the top address.

Kept from CoreDNS's weighted.go: the file format and its error messages, the change test (an
MD5 of the content; a file that fails to parse is not re-read until it changes again), the
owner-name lookup (exact, as the reply spells it) and the weighted draw.
"""

from __future__ import annotations

import hashlib
import ipaddress

import dnslib

from kdns.plugins.loadbalance.shuffle import AAAA, A, RandBelow, address_of, split

SRV = 33
#: name (with its final dot, spelled as in the file) -> address text -> weight.
Weights = dict[str, dict[str, int]]


class WeightFileError(Exception):
    """A weight file that cannot be opened or read; the message is CoreDNS's."""


class WeightOpenError(WeightFileError):
    """The weight file cannot be opened (a warning at startup when it will be retried)."""

    def __init__(self) -> None:
        super().__init__("weight file open error")


def canonical_address(text: str) -> str | None:
    """Return an IP address as text, IPv4-mapped IPv6 as IPv4; None if `text` is not one."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def parse_weights(text: str, path: str) -> Weights:
    """Read a weight file: a name on its own line, then `ADDRESS WEIGHT` lines (1 to 255)."""
    domains: Weights = {}
    current: dict[str, int] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) == 1:
            if canonical_address(fields[0]) is not None:
                raise WeightFileError(
                    f'wrong domain name:"{fields[0]}" in weight file {path}. '
                    "(Maybe a missing weight value?)"
                )
            name = fields[0] if fields[0].endswith(".") else fields[0] + "."
            current = domains.setdefault(name, {})
        elif len(fields) == 2:
            address = canonical_address(fields[0])
            if address is None:
                raise WeightFileError(f'wrong IP address:"{fields[0]}" in weight file {path}')
            text_weight = fields[1]
            if not (text_weight.isascii() and text_weight.isdigit()) or not (
                0 < int(text_weight) <= 255
            ):
                raise WeightFileError(f'wrong weight value:"{text_weight}" in weight file {path}')
            if current is None:
                raise WeightFileError(f"missing domain name in weight file {path}")
            # CoreDNS keeps a list and takes the first match: the first weight given wins.
            current.setdefault(address, int(text_weight))
        else:
            raise WeightFileError(f'could not parse weight line:"{line}" in weight file {path}')
    return domains


class WeightFile:
    """The weights last read from one file, and the digest that tells when it changed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.weights: Weights = {}
        self._digest = b""

    def update(self) -> bool:
        """Re-read the file; return True if new weights were loaded, raise WeightFileError."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except OSError:
            raise WeightOpenError() from None
        digest = hashlib.md5(raw, usedforsecurity=False).digest()
        if digest == self._digest:
            return False
        self._digest = digest
        self.weights = parse_weights(raw.decode("utf-8", "replace"), self.path)
        return True


def top_index(address: list[dnslib.RR], weights: Weights, randbelow: RandBelow) -> int:
    """Draw the index of the address to put first, with the file's weights (1 by default)."""
    drawn: list[tuple[int, int]] = []
    total = 0
    for i, rr in enumerate(address):
        weight = 1
        table = weights.get(str(rr.rname))
        if table:
            ip = address_of(rr)
            if ip is not None:
                weight = table.get(str(ip), 1)
        drawn.append((weight, i))
        total += weight
    drawn.sort(key=lambda pair: -pair[0])
    v = randbelow(total)
    partial = 0
    for weight, i in drawn:
        partial += weight
        if v < partial:
            return i
    return 0


def weighted_section(
    records: list[dnslib.RR], weights: Weights, randbelow: RandBelow
) -> list[dnslib.RR]:
    """Put one drawn address first; CNAMEs, other types, addresses, then MX."""
    cname, address, mx, rest = split(records)
    if not address:
        return records
    top = top_index(address, weights, randbelow)
    if top:
        address[0], address[top] = address[top], address[0]
    return cname + rest + address + mx


def weighted_types(qtype: int) -> bool:
    """Tell whether replies to `qtype` are reordered by the weighted policy (A, AAAA, SRV)."""
    return qtype in (A, AAAA, SRV)
