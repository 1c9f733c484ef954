"""`kdns demo`: the seed's walkthrough on this machine, no cluster needed.

Starts the project's Kubernetes API server with the seed's cluster (examples/cluster.yaml),
writes a kubeconfig for it, serves the seed's Corefile (examples/Corefile, port 1053, with
`reload`), prints the seed's lookups, and keeps serving: edit either file in another terminal
and ask again with `dig @127.0.0.1 -p 1053 NAME`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

import dnslib

from kdns.plugins import default_registry
from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.serve import banner, platform_line, serve_until_shutdown, version
from kdns.runtime.server import RunOptions, Server, StartError

#: The seed's `host` lookups: (what the seed typed, name, type).
LOOKUPS = (
    ("host kubernetes", "kubernetes.default.svc.cluster.local", "A"),
    ("host kube-dns.kube-system", "kube-dns.kube-system.svc.cluster.local", "A"),
    ("host 10.3.0.1", "1.0.3.10.in-addr.arpa", "PTR"),
    ("host 10.3.0.10", "10.0.3.10.in-addr.arpa", "PTR"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to its subcommand."""
    parser.add_argument(
        "--cluster",
        default="examples/cluster.yaml",
        metavar="FILE",
        help="Kubernetes manifests to serve (default: examples/cluster.yaml)",
    )
    parser.add_argument(
        "--conf",
        default="examples/Corefile",
        metavar="FILE",
        help="the Corefile to serve (default: examples/Corefile)",
    )
    parser.add_argument(
        "--once", action="store_true", help="print the lookups and exit instead of serving on"
    )


async def ask(port: int, name: str, qtype: str) -> list[str]:
    """Ask the demo server over UDP; return the answers as `host` prints them."""
    loop = asyncio.get_running_loop()
    query = dnslib.DNSRecord.question(name, qtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_sendto(sock, query.pack(), ("127.0.0.1", port))
        async with asyncio.timeout(3):
            reply = dnslib.DNSRecord.parse(await loop.sock_recv(sock, 4096))
    if not reply.rr:
        return [f"Host {name} not found: {dnslib.RCODE[reply.header.rcode]}"]
    out = []
    for rr in reply.rr:
        if rr.rtype == dnslib.QTYPE.PTR:
            out.append(f"{str(rr.rname).rstrip('.')} domain name pointer {rr.rdata}")
        else:
            out.append(f"{str(rr.rname).rstrip('.')} has address {rr.rdata}")
    return out


async def run(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C (or once, with --once)."""
    cluster, conf = Path(args.cluster), Path(args.conf)
    for path in (cluster, conf):
        if not path.exists():
            print(f"{path}: not found (run kdns demo from the repository root)", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory() as tmp:
        async with ApiServer([cluster]) as api:
            kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", api.url)
            os.environ["KUBECONFIG"] = str(kubeconfig)  # found the way kubectl finds it
            server = Server(RunOptions(conf=str(conf)), default_registry())
            try:
                gen = await server.start()
            except StartError as exc:
                print(exc, file=sys.stderr)
                return 1
            port = gen.model.servers[0].addresses[0].port
            print(
                f"Kubernetes API server (examples' cluster) at {api.url}; "
                f"kubectl --kubeconfig {kubeconfig} get svc -A"
            )
            print("\n".join([*banner(gen.model), version(), platform_line()]))
            for typed, name, qtype in LOOKUPS:
                print(f"/ # {typed}")
                print("\n".join(await ask(port, name, qtype)), flush=True)
            if args.once:
                await server.stop()
                return 0
            print(
                f"Serving on 127.0.0.1:{port}; try: dig @127.0.0.1 -p {port} "
                "web.default.svc.cluster.local. Edit examples/cluster.yaml or "
                "examples/Corefile and ask again. Ctrl-C stops.",
                flush=True,
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, server.request_shutdown)
            await serve_until_shutdown(server)
    return 0
