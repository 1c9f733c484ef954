"""pyproject.toml ships every package folder, and the chain order covers every plugin."""

from __future__ import annotations

import tomllib
from pathlib import Path

from kdns.plugins import CHAIN_ORDER, implemented

ROOT = Path(__file__).parents[1]


def test_every_plugin_folder_is_a_listed_package() -> None:
    """A plugin folder missing from `packages` would vanish from a non-editable install."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {
        f"kdns.plugins.{p.name}"
        for p in (ROOT / "plugins").iterdir()
        if (p / "__init__.py").exists()
    }
    assert folders <= listed, sorted(folders - listed)


def test_every_plugin_folder_is_in_the_chain_order() -> None:
    """A plugin package whose name is not in CHAIN_ORDER would never be registered."""
    folders = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()}
    assert folders == set(implemented())
    assert len(CHAIN_ORDER) == len(set(CHAIN_ORDER))
