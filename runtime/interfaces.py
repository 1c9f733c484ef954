"""Network interface names to addresses, for `bind eth0` (Linux: ioctl and /proc)."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

SIOCGIFADDR = 0x8915


def interface_addresses(name: str) -> list[str]:
    """Return the IPv4 and IPv6 addresses of interface `name`; link-local IPv6 get `%name`.

    Raises OSError when there is no such interface.
    """
    if name not in {n for _, n in socket.if_nameindex()}:
        raise OSError(f"not a valid IP address or interface name: {name!r}")
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(
                sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15])
            )
            found.append(socket.inet_ntoa(packed[20:24]))
        except OSError:
            pass  # no IPv4 address on this interface
    try:
        with open("/proc/net/if_inet6") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) >= 6 and fields[5] == name:
                    address = ipaddress.IPv6Address(int(fields[0], 16))
                    text = str(address)
                    found.append(f"{text}%{name}" if address.is_link_local else text)
    except OSError:
        pass  # no IPv6 on this machine
    return found


def expand(hosts: tuple[str, ...], excluded: tuple[str, ...]) -> list[str]:
    """Resolve interface names among `hosts`, then drop the excluded addresses."""

    def resolve(items: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for host in items:
            try:
                ipaddress.ip_address(host.split("%", 1)[0])
                out.append(host)
            except ValueError:
                out.extend(interface_addresses(host))
        return out

    if hosts == ("",):
        return [""]
    drop = set(resolve(excluded))
    return list(dict.fromkeys(h for h in resolve(hosts) if h not in drop))
