"""The `kdns` command line: a thin layer that parses flags and calls into kdns."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kdns.plugins import default_registry
from kdns.runtime.check import run_check


def _parser() -> argparse.ArgumentParser:
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the kdns command line; return the exit code (2 for usage errors)."""
    args = _parser().parse_args(argv)
    if args.command == "check":
        return run_check(
            args.files,
            default_registry(),
            fmt=args.format,
            explain_=args.explain,
            out=sys.stdout,
        )
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
