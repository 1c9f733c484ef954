"""forward: the upstreams known only at start: resolv.conf files and hostnames."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from pathlib import Path

import dnslib

from kdns.plugins.forward.client import Proxy, ProxyOptions, UpstreamError

#: How long a `resolver` has to answer each lookup, as CoreDNS's client waits.
LOOKUP_TIMEOUT = 2.0


class StartupError(Exception):
    """An upstream could not be found when the server started (the message says which)."""


def nameservers(path: str) -> list[str]:
    """Return the `nameserver` addresses of a resolv.conf-style file, in order."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise StartupError(f"failed to open file {path!r}: {exc.strerror or exc}") from None
    found: list[str] = []
    for raw in text.splitlines():
        fields = raw.split()
        if len(fields) < 2 or fields[0] != "nameserver":
            continue
        address = fields[1]
        try:
            ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            raise StartupError(f"{path}: nameserver {address!r} is not an IP address") from None
        found.append(address)
    if not found:
        raise StartupError(f"{path}: no nameservers found")
    return found


async def lookup(hostname: str, resolvers: tuple[tuple[str, int], ...]) -> list[str]:
    """Return the addresses of `hostname`: from the system resolver, or from `resolvers`."""
    if not resolvers:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(hostname, None, type=socket.SOCK_DGRAM)
        except OSError as exc:
            raise StartupError(f"failed to resolve {hostname!r}: {exc}") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
    last = ""
    for host, port in resolvers:
        ips: list[str] = []
        for qtype in ("A", "AAAA"):
            try:
                ips += await _ask(host, port, hostname, qtype)
            except UpstreamError as exc:
                last = str(exc)
                break
        if ips:
            return ips
    reason = f": {last}" if last else ""
    raise StartupError(f"failed to resolve {hostname!r}: no addresses found{reason}")


async def _ask(host: str, port: int, hostname: str, qtype: str) -> list[str]:
    query = dnslib.DNSRecord.question(hostname.rstrip(".") + ".", qtype)
    query.header.id = random.getrandbits(16)
    wire = query.pack()
    resolver = Proxy(host, port, options=ProxyOptions(read_timeout=LOOKUP_TIMEOUT))
    conn = resolver._dial_udp()
    try:
        data = await resolver._udp_roundtrip(conn, wire, wire[:2], LOOKUP_TIMEOUT)
    finally:
        conn.close()
        resolver.stop()
    try:
        reply = dnslib.DNSRecord.parse(data)
    except Exception as exc:
        raise UpstreamError(f"bad reply from {host}:{port}: {exc}") from None
    wanted = getattr(dnslib.QTYPE, qtype)
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == wanted]
