"""The `kdns` command line: a thin layer that parses flags and calls into kdns."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from kdns.plugins import default_registry
from kdns.runtime import logs
from kdns.runtime.check import run_check
from kdns.runtime.server import RunOptions

#: The commands whose module is imported only when that command runs (`kdns serve` need not
#: carry the API server, the manifests or the migration rules in its memory).
LAZY = {
    "apiserver": (
        "kdns.plugins.kubernetes.apiserver.cli",
        "serve Kubernetes manifests over the Kubernetes API (tests, demo)",
        "A small Kubernetes API server (list, watch, bookmarks, 410 Gone) that serves the "
        "objects in the given YAML manifests and follows edits to them.",
    ),
    "demo": (
        "kdns.runtime.demo",
        "the seed's walkthrough locally: API server + kdns + the seed's lookups",
        "Start the project's Kubernetes API server with examples/cluster.yaml, serve "
        "examples/Corefile on port 1053, print the seed's lookups, and keep serving.",
    ),
    "migrate": (
        "kdns.runtime.migrate",
        "rewrite deprecated CoreDNS syntax (proxy, upstream, ...) and show the diff",
        "Rewrite what CoreDNS removed since 1.1 the way coredns/corefile-migration does; "
        "print a diff and the reasons. --write replaces FILE only if the result passes "
        "kdns check.",
    ),
    "deploy": (
        "kdns.runtime.deploy",
        "print the manifests that run kdns as the cluster DNS (kubectl apply -f -)",
        "Print a ConfigMap with a checked Corefile, RBAC, a Deployment, the kube-dns Service "
        "at the existing cluster IP and a PodDisruptionBudget.",
    ),
}


def _module(command: str) -> ModuleType:
    return importlib.import_module(LAZY[command][0])


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; the options of a LAZY command are added only when it is `command`."""
    parser = argparse.ArgumentParser(
        prog="kdns", description="Cluster DNS for Kubernetes, configured by a Corefile."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check",
        help="validate Corefiles without serving them",
        description="Validate Corefiles the way kdns serve loads them: no socket is opened, "
        "no name resolved, no file read but the Corefiles and what they import.",
    )
    check.add_argument(
        "files",
        nargs="*",
        default=["Corefile"],
        metavar="FILE",
        help="Corefiles to check (default: ./Corefile)",
    )
    check.add_argument(
        "--explain",
        action="store_true",
        help="print each server block's zones, listeners and plugin chain",
    )
    check.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    serve = commands.add_parser(
        "serve",
        help="serve DNS as the Corefile says (also: kdns -conf FILE)",
        description="Serve DNS. CoreDNS's flags work as they are: -conf, -dns.port, -quiet, "
        "-pidfile, -plugins, -version.",
    )
    serve.add_argument(
        "--conf",
        "-conf",
        dest="conf",
        metavar="FILE",
        help="Corefile to load (default: ./Corefile, else the built-in default)",
    )
    serve.add_argument(
        "--dns.port",
        "-dns.port",
        "-p",
        dest="dns_port",
        type=int,
        default=53,
        metavar="PORT",
        help="default port for dns:// zones (default: 53)",
    )
    serve.add_argument(
        "--quiet",
        "-quiet",
        action="store_true",
        help="do not print the served zones and version at startup",
    )
    serve.add_argument("--pidfile", "-pidfile", metavar="FILE", help="write the process ID here")
    serve.add_argument(
        "--plugins", "-plugins", action="store_true", help="list the plugins kdns serves and exit"
    )
    serve.add_argument(
        "--version", "-version", action="store_true", help="print the version and exit"
    )
    serve.add_argument(
        "--workers",
        "-workers",
        type=int,
        default=1,
        metavar="N",
        help="answer with N processes sharing the DNS ports (SO_REUSEPORT); one watches the "
        "Kubernetes API and serves health, ready and metrics for all (default: 1)",
    )
    serve.add_argument("--worker-channel", type=int, help=argparse.SUPPRESS)
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log as CoreDNS-style text lines (default) or JSON",
    )
    for name, (_, help_text, description) in LAZY.items():
        sub = commands.add_parser(name, help=help_text, description=description)
        if command == name:
            _module(name).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the kdns command line; return the exit code (2 for usage errors)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or (args_in[0].startswith("-") and args_in[0] not in ("-h", "--help")):
        args_in.insert(0, "serve")  # `kdns -conf FILE`, as the seed's container runs it
    args = _parser(args_in[0]).parse_args(args_in)
    if args.command == "deploy":
        return int(_module("deploy").run(args))
    if args.command == "migrate":
        return int(_module("migrate").run(args, default_registry(), sys.stdout))
    if args.command == "apiserver":
        return int(_module("apiserver").run(args))
    if args.command == "demo":
        logs.setup()
        return int(asyncio.run(_module("demo").run(args)))
    if args.command == "check":
        return run_check(
            args.files,
            default_registry(),
            fmt=args.format,
            explain_=args.explain,
            out=sys.stdout,
        )
    from kdns.runtime.serve import platform_line, serve, version

    if args.version:
        print(f"{version()}\n{platform_line()}")
        return 0
    if args.plugins:
        served = [n for n, s in default_registry().items() if s.support == "served"]
        print("Server types:\n  dns\n\nPlugins:\n" + "".join(f"  dns.{n}\n" for n in served))
        return 0
    logs.setup(args.log_format)
    if args.worker_channel is not None:  # started by `kdns serve --workers N`
        from kdns.runtime.worker import run_worker

        options = RunOptions(args.conf, args.dns_port, quiet=True, freeze=True)
        return run_worker(options, args.worker_channel)
    if args.workers < 1:
        _parser().error(f"--workers must be at least 1, not {args.workers}")
    options = RunOptions(args.conf, args.dns_port, args.quiet, args.pidfile, freeze=True)
    return serve(options, args.workers, args.log_format)


if __name__ == "__main__":
    sys.exit(main())
