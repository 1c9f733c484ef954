"""`kdns check` opens no socket, resolves no name, and reads no file but the Corefile."""

from __future__ import annotations

import builtins
import os
import re
import socket
from pathlib import Path
from typing import NoReturn

import pytest

from kdns.corefile import CorefileError, Reader, loads
from kdns.plugins import default_registry, implemented

ROOT = Path(__file__).parents[1]
TEXTS = [p.read_text() for p in sorted((ROOT / "tests/corefile/corpus").glob("*.corefile"))]
TEXTS += [
    block
    for name in implemented()
    for block in re.findall(
        r"^~~~ corefile\n(.*?)^~~~$",
        (ROOT / "plugins" / name / "README.md").read_text(),
        re.S | re.M,
    )
]


class NoFiles(Reader):
    """A reader with no files at all: imports find nothing."""

    def read(self, path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    def glob(self, pattern: str) -> list[str]:
        return []

    def is_dir(self, path: str) -> bool:
        return False

    def exists(self, path: str) -> bool:
        return False


def forbidden(*args: object, **kwargs: object) -> NoReturn:
    raise AssertionError(f"side effect during parse: {args!r}")


def test_loading_every_known_corefile_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every corpus file and README example loads with file, socket and DNS access forbidden."""
    registry = default_registry()  # plugin modules are imported before the lid goes on
    for target, attr in [
        (builtins, "open"),
        (os, "stat"),
        (os, "listdir"),
        (os, "scandir"),
        (socket, "socket"),
        (socket, "getaddrinfo"),
        (socket, "gethostbyname"),
    ]:
        monkeypatch.setattr(target, attr, forbidden)
    loaded = 0
    for text in TEXTS:
        try:
            loads(text, registry, path="/nowhere/Corefile", env={}, reader=NoFiles())
            loaded += 1
        except CorefileError:
            pass
    assert loaded > len(TEXTS) // 2
