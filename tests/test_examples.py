"""Every example Corefile passes the checker (errors fail the test; warnings are allowed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdns.corefile import load
from kdns.plugins import default_registry

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.corefile"))


def test_there_are_examples() -> None:
    """The README's main command has files to check."""
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_loads(path: Path) -> None:
    """Each example loads with the default registry."""
    model = load(str(path), default_registry(), env={})
    assert model.servers
