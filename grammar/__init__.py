"""The Corefile grammar, shipped as package data (syntax only, no plugin knowledge)."""

from __future__ import annotations

from importlib import resources

GRAMMAR_NAME = "corefile.lark"


def grammar_text() -> str:
    """Return the text of the lark grammar for Corefiles."""
    return resources.files(__name__).joinpath(GRAMMAR_NAME).read_text(encoding="utf-8")
