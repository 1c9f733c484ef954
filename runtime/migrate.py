"""`kdns migrate FILE`: rewrite deprecated Corefile syntax, show the diff, write only valid text."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import TextIO

from kdns.corefile import CorefileError, PluginSpec, loads
from kdns.corefile.errors import Diagnostic
from kdns.corefile.migrate import LATEST, Migration, migrate, parse_version


def _version(text: str) -> str:
    try:
        parse_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments to a (sub)parser."""
    parser.add_argument("file", metavar="FILE", help="the Corefile to migrate")
    parser.add_argument(
        "--write",
        action="store_true",
        help="replace FILE with the migrated text, only if it passes kdns check",
    )
    parser.add_argument(
        "--to-version",
        type=_version,
        default=LATEST,
        metavar="VERSION",
        help=f"apply the changes CoreDNS made up to this release (default: {LATEST})",
    )


def validate(text: str, path: str, registry: Mapping[str, PluginSpec]) -> list[Diagnostic]:
    """Load migrated text the way `kdns check` loads a file; return its diagnostics."""
    try:
        model = loads(text, registry, path=path)
    except CorefileError as exc:
        return list(exc.diagnostics)
    return list(model.warnings)


def write_atomically(path: str, text: str) -> None:
    """Replace the file (the target of a symlink, for mounted ConfigMaps) in one rename."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=".kdns-migrate-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def run(args: argparse.Namespace, registry: Mapping[str, PluginSpec], out: TextIO) -> int:
    """Migrate one Corefile, print the diff and the reasons; return 0, or 1 if invalid."""
    path: str = args.file
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        print(f"{path}:0:0: error: cannot read the Corefile: {reason}", file=out)
        return 1
    try:
        result = migrate(text, path, to_version=args.to_version)
    except CorefileError as exc:
        for d in exc.diagnostics:
            print(d.headline(), file=out)
        print(f"{path}: cannot be parsed, nothing migrated", file=out)
        return 1
    return report(result, validate(result.text, path, registry), write=args.write, out=out)


def report(result: Migration, found: list[Diagnostic], *, write: bool, out: TextIO) -> int:
    """Print the diff, the reasons and the check of the result; write it if asked and valid."""
    path = result.path
    if result.changed:
        print(result.diff(), file=out)
    for reason in result.reasons:
        print(reason, file=out)
    errors = [d for d in found if d.severity == "error"]
    if found:
        print(f"kdns check on the {'migrated' if result.changed else 'unchanged'} text:", file=out)
        for d in found:
            print(f"  {d.headline()}", file=out)
    changes = _plural(sum(r.changed for r in result.reasons), "change")
    if errors:
        kept = "not written" if write and result.changed else "fix it by hand"
        count = _plural(len(errors), "error")
        print(f"{path}: the result does not pass kdns check ({count}): {kept}", file=out)
        return 1
    warnings = _plural(len(found), "warning")
    if not result.changed:
        print(f"{path}: nothing to migrate ({warnings})", file=out)
        return 0
    if write:
        write_atomically(path, result.text)
        print(f"{path}: {changes} written; it passes kdns check ({warnings})", file=out)
    else:
        print(
            f"{path}: {changes}; the result passes kdns check ({warnings}); "
            "run with --write to apply them",
            file=out,
        )
    return 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"
