"""Helpers for tests that run a real kdns server in-process and query it over sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import dns.asyncquery
import dns.message

from kdns.corefile import PluginSpec
from kdns.plugins import default_registry
from kdns.runtime.server import RunOptions, Server


def free_port() -> int:
    """Return a port free for UDP and TCP on every address, IPv4 and IPv6, right now.

    A server block without `bind` listens on all addresses, so a port taken on any one of
    them (an upstream's outgoing socket on the machine's own address, say) will not do.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("", 0))
            port = int(udp.getsockname()[1])
            if _free_elsewhere(port):
                return port
    raise RuntimeError("no free port found")


def _free_elsewhere(port: int) -> bool:
    """Tell whether TCP on IPv4 and UDP and TCP on IPv6 can all bind `port` on any address."""
    tries = [(socket.AF_INET, socket.SOCK_STREAM)]
    if socket.has_ipv6:
        tries += [(socket.AF_INET6, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_STREAM)]
    for family, kind in tries:
        with socket.socket(family, kind) as sock:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(("", port))
            except OSError:
                return False
    return True


async def start_kdns(*args: str, **options: object) -> asyncio.subprocess.Process:
    """Start `python -m kdns.runtime ARGS...` as a separate process; `options` go to
    `asyncio.create_subprocess_exec` (stdout, stderr, cwd...)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kdns.runtime",
        *args,
        **options,  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def running(
    corefile: str,
    folder: Path | None = None,
    registry: Mapping[str, PluginSpec] | None = None,
    **options: object,
) -> AsyncIterator[Server]:
    """Write `corefile` to a file, start a server on it, yield it, and stop it afterwards."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        path = folder / "Corefile"
        path.write_text(corefile)
        server = Server(
            RunOptions(conf=str(path), **options),  # type: ignore[arg-type]
            registry or default_registry(),
        )
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


async def query(
    port: int,
    name: str,
    rdtype: str = "A",
    *,
    tcp: bool = False,
    host: str = "127.0.0.1",
    ident: int | None = None,
    source_port: int = 0,
    timeout: float = 3.0,
    **make: object,
) -> dns.message.Message:
    """Ask a running server one question over UDP or TCP with dnspython; return the reply.

    Extra keywords go to `dns.message.make_query` (`use_edns`, `want_dnssec`, `rdclass`...).
    """
    msg = dns.message.make_query(name, rdtype, **make)  # type: ignore[arg-type]
    if ident is not None:
        msg.id = ident
    if tcp:
        return await dns.asyncquery.tcp(
            msg, host, port=port, timeout=timeout, source_port=source_port
        )
    return await dns.asyncquery.udp(msg, host, port=port, timeout=timeout, source_port=source_port)
