"""`kdns apiserver FILE... [--port N]`: serve manifests as a Kubernetes API until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from kdns.plugins.kubernetes.apiserver.kubeconfig import write_kubeconfig
from kdns.plugins.kubernetes.apiserver.manifests import ManifestError
from kdns.plugins.kubernetes.apiserver.server import ApiServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments to a (sub)parser."""
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="Kubernetes manifests (YAML or JSON); re-read when they change",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to listen on, 0 for any free one (default: 8080)",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="write a kubeconfig pointing at the server here",
    )
    parser.add_argument(
        "--event-window",
        type=int,
        default=1000,
        metavar="N",
        help="events kept per resource for watch resumes (default: 1000)",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often watches get bookmarks (default: 60)",
    )


async def _serve(args: argparse.Namespace) -> int:
    server = ApiServer(
        args.files,
        args.host,
        args.port,
        args.event_window,
        bookmark_interval=args.bookmark_interval,
    )
    try:
        await server.start()
    except ManifestError as err:
        print(f"kdns apiserver: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(
            f"kdns apiserver: cannot listen on {args.host}:{args.port}: {err.strerror}",
            file=sys.stderr,
        )
        return 1
    for warning in server.warnings:
        print(f"kdns apiserver: warning: {warning}", file=sys.stderr)
    if args.kubeconfig:
        write_kubeconfig(args.kubeconfig, server.url)
    counts = {p: len(c.items) for p, c in server.cluster.store.collections.items()}
    summary = ", ".join(f"{n} {p}" for p, n in counts.items() if n) or "empty"
    print(f"serving the Kubernetes API at {server.url} ({summary})", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    await done.wait()
    await server.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the server until SIGINT or SIGTERM; return the exit status."""
    return asyncio.run(_serve(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse `argv` and run."""
    parser = argparse.ArgumentParser(
        prog="kdns apiserver", description="Serve Kubernetes manifests as an API server."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
