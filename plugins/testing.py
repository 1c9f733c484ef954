"""Helpers for testing plugins against the real Corefile loader.

A directive under test is placed in a server block, `KEYS {` on line 1 and the directive
text from line 2 on, unindented, so positions in errors are the text's line + 1.
"""

from __future__ import annotations

from kdns.corefile import Corefile, CorefileError, Diagnostic, loads
from kdns.plugins import default_registry


def load_text(text: str, *, path: str = "Corefile", env: dict[str, str] | None = None) -> Corefile:
    """Load Corefile text with the default registry and an empty environment."""
    return loads(text, default_registry(), path=path, env=env or {})


def in_block(directive_text: str, keys: str = "example.org") -> str:
    """Return a Corefile with `directive_text` inside one server block with `keys`."""
    return f"{keys} {{\n{directive_text}\n}}\n"


def parse_all(directive_text: str, keys: str = "example.org") -> tuple[object, ...]:
    """Return the configs parsed from the directives in `directive_text`, in chain order."""
    model = load_text(in_block(directive_text, keys))
    return tuple(entry.config for entry in model.servers[0].plugins)


def parse_one(directive_text: str, keys: str = "example.org") -> object:
    """Return the config of the single directive in `directive_text`."""
    configs = parse_all(directive_text, keys)
    assert len(configs) == 1, configs
    return configs[0]


def parse_error(directive_text: str, keys: str = "example.org") -> Diagnostic:
    """Return the first error loading `directive_text` gives; fail if it loads."""
    try:
        load_text(in_block(directive_text, keys))
    except CorefileError as exc:
        return exc.errors[0]
    raise AssertionError(f"expected an error for {directive_text!r}")


def warnings(directive_text: str, keys: str = "example.org") -> tuple[Diagnostic, ...]:
    """Return the warnings loading `directive_text` gives (it must load)."""
    return load_text(in_block(directive_text, keys)).warnings
