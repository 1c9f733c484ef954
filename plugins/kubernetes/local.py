"""The server's own addresses, which the apex NS answer names (CoreDNS's boundIPs).

The `bind` addresses of the server block when it has any, else every interface address;
loopback addresses are left out. Read in start(), never while parsing.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from collections.abc import Iterable

_SIOCGIFADDR = 0x8915


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def addresses_by_interface() -> dict[str, list[str]]:
    """Return the IPv4 and IPv6 addresses of each network interface, by name (Linux)."""
    out: dict[str, list[str]] = {}
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        names = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for name in names:
            try:
                packed = fcntl.ioctl(
                    sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15])
                )
            except OSError:
                continue  # no IPv4 address on this interface
            out.setdefault(name, []).append(socket.inet_ntoa(packed[20:24]))
    try:
        with open("/proc/net/if_inet6") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) >= 6:
                    address = str(ipaddress.IPv6Address(int(fields[0], 16)))
                    out.setdefault(fields[5], []).append(address)
    except OSError:
        pass  # no IPv6 on this machine
    return out


def own_addresses(bind_hosts: Iterable[str] = ()) -> list[str]:
    """Return the non-loopback addresses the server answers on, canonical text, in order.

    `bind_hosts` are the block's `bind` hosts (addresses or interface names); none means
    every interface address.
    """
    hosts = [h for h in bind_hosts if h]
    by_name: dict[str, list[str]] | None = None
    if not hosts:
        by_name = addresses_by_interface()
        hosts = [a for found in by_name.values() for a in found]
    out: list[str] = []
    for host in hosts:
        if _ip(host) is None:
            by_name = addresses_by_interface() if by_name is None else by_name
            candidates = by_name.get(host, [])
        else:
            candidates = [host]
        for text in candidates:
            ip = _ip(text)
            if ip is not None and not ip.is_loopback:
                out.append(str(ip))
    return list(dict.fromkeys(out))
