"""Live reload: watch the Corefile and its imports, with a checksum poll as the fallback.

Runs only while the running configuration has `reload` (as CoreDNS reloads only then). The
watcher follows the directories that hold the Corefile and every imported file or glob, so
the kubelet's ConfigMap update (a new timestamped directory, then an atomic swap of the
`..data` symlink) is seen as it happens. A burst of file events gives one reload; a reload
whose configuration did not change does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random

import watchfiles

from kdns.runtime.server import Server

#: How long file events are gathered into one reload, in milliseconds.
DEBOUNCE_MS = 100


def watched_dirs(server: Server) -> set[str]:
    """Return the existing directories that hold the running configuration's inputs."""
    gen = server.current
    if gen is None:
        return set()
    dirs = {os.path.dirname(os.path.abspath(p)) for p in gen.model.inputs if not p.startswith("<")}
    return {d for d in dirs if os.path.isdir(d)}


async def _watch(server: Server, dirs: set[str], stop: asyncio.Event) -> None:
    async for _ in watchfiles.awatch(
        *sorted(dirs),
        debounce=DEBOUNCE_MS,
        step=20,
        stop_event=stop,
        recursive=True,
        ignore_permission_denied=True,
    ):
        server.request_reload()


async def _poll(server: Server, interval: float, jitter: float) -> None:
    while True:
        await asyncio.sleep(max(0.5, interval + random.uniform(-jitter / 2, jitter / 2)))
        server.request_reload()


async def reload_loop(server: Server) -> None:
    """Keep a watcher and a poll running that match the running configuration."""
    while True:
        changed = server.changed
        policy = server.reload_policy()
        tasks: list[asyncio.Task[None]] = []
        stop = asyncio.Event()
        if policy is not None:
            dirs = watched_dirs(server)
            if dirs:
                tasks.append(asyncio.create_task(_watch(server, dirs, stop)))
            tasks.append(asyncio.create_task(_poll(server, policy.interval, policy.jitter)))
        try:
            await changed.wait()
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
