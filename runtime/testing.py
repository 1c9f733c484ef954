"""Helpers for tests that run a real kdns server in-process and query it over sockets."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import ModuleType

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


#: The capabilities that let root read a file whatever its mode.
_DAC = "-dac_override,-dac_read_search"


async def start_kdns(
    *args: str, unprivileged: bool = False, **options: object
) -> asyncio.subprocess.Process:
    """Start `python -m kdns.runtime ARGS...` as a separate process; `options` go to
    `asyncio.create_subprocess_exec` (stdout, stderr, cwd...).

    `unprivileged`: when we are root, start it through setpriv without the capabilities that
    override file modes, so that a `chmod 000` file is unreadable to it as to any user; it
    stays uid 0 (it still reaches a checkout only root may enter). setpriv execs python in
    place, so the pid is still kdns's.
    """
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        prefix = ["setpriv", f"--inh-caps={_DAC}", f"--bounding-set={_DAC}", "--"]
    return await asyncio.create_subprocess_exec(
        *prefix,
        sys.executable,
        "-m",
        "kdns.runtime",
        *args,
        **options,  # type: ignore[arg-type]
    )


def proc_stats(pid: int) -> tuple[int, int, int]:
    """Return (RSS in KiB, threads, open file descriptors) of a process, from /proc."""
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


def import_path(name: str, path: Path) -> ModuleType:
    """Import the file `path` as module `name` (for tests/ files, which are not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
