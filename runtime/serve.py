"""`kdns serve`: start the server, print what CoreDNS prints, and run until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import platform
import signal
import sys
from importlib import metadata
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import structlog

from kdns.corefile import Corefile
from kdns.plugins import default_registry
from kdns.runtime import hot
from kdns.runtime.reload import reload_loop
from kdns.runtime.server import RunOptions, Server, StartError

log = structlog.get_logger("kdns.server")


def version() -> str:
    """Return the version line, `kdns-X.Y.Z`."""
    try:
        return f"kdns-{metadata.version('kdns')}"
    except metadata.PackageNotFoundError:  # running from a source tree
        return "kdns-dev"


def platform_line() -> str:
    """Return the line CoreDNS prints after its version: OS/arch, runtime and build."""
    return f"{sys.platform}/{platform.machine()}, python{platform.python_version()}, {build()}"


def build() -> str:
    """Return "compiled" (setup.py built the per-query modules with mypyc) or "interpreted"."""
    compiled = Path(hot.__file__).name.endswith(tuple(EXTENSION_SUFFIXES))
    return "compiled" if compiled else "interpreted"


def banner(model: Corefile) -> list[str]:
    """Return the served zones as CoreDNS lists them at startup (`.:53`, `x.:1053 on 1.2.3.4`)."""
    lines = []
    for block in model.servers:
        for addr in block.addresses:
            scheme = "" if addr.transport == "dns" else f"{addr.transport}://"
            for host in block.listen_hosts():
                on = f" on {host}" if host else ""
                lines.append(f"{scheme}{addr.zone}:{addr.port}{on}")
    return list(dict.fromkeys(lines))


async def run(options: RunOptions, workers: int = 1, log_format: str = "text") -> int:
    """Serve until SIGTERM or SIGINT; return the exit code.

    With `workers` > 1 a supervisor runs that many worker processes (runtime/workers.py).
    """
    if workers > 1:
        from kdns.runtime.workers import Supervisor

        server: Server = Supervisor(options, default_registry(), workers, log_format)
    else:
        server = Server(options, default_registry())
    try:
        gen = await server.start()
    except StartError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not options.quiet:
        print("\n".join([*banner(gen.model), version(), platform_line()]), flush=True)
    if server.reload_policy() is not None:
        structlog.get_logger("plugin/reload").info(f"Running configuration SHA512 = {gen.digest}")
    if options.pidfile:
        with open(options.pidfile, "w") as fh:
            fh.write(f"{os.getpid()}\n")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_shutdown)
    for sig in (signal.SIGHUP, signal.SIGUSR1):
        loop.add_signal_handler(sig, server.request_reload)
    try:
        await serve_until_shutdown(server)
    finally:
        if options.pidfile:
            with contextlib.suppress(OSError):
                os.unlink(options.pidfile)
    return 0


async def serve_until_shutdown(server: Server) -> None:
    """Perform reloads (asked for, and the reload plugin's checks) until shutdown is asked;
    then stop `server`."""
    tasks = [asyncio.create_task(server.reloader()), asyncio.create_task(reload_loop(server))]
    try:
        await server.wait_for_shutdown()
        await server.stop()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


#: glibc malloc arenas for the process (mallopt M_ARENA_MAX; glibc's default is 8 per core).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8


def limit_malloc_arenas() -> None:
    """Keep glibc from giving each thread its own malloc arena, unless MALLOC_ARENA_MAX is set.

    The watch threads parse the API's pages (megabytes of JSON with 150,000 pods) in arenas
    of their own, each keeping what it freed: 2.8 MB more steady RSS in `bench/k8s_scale.py`
    (128.0 vs 125.2 MB). Workers spawned later inherit the setting through the environment.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    os.environ["MALLOC_ARENA_MAX"] = str(MALLOC_ARENAS)
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: nothing to set
        return
    mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def serve(options: RunOptions, workers: int = 1, log_format: str = "text") -> int:
    """Run the server on uvloop when it is installed, else on asyncio's loop."""
    limit_malloc_arenas()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run(options, workers, log_format))
    return uvloop.run(run(options, workers, log_format))
