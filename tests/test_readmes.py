"""Each plugin README has CoreDNS's shape, and every `~~~ corefile` example passes the checker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdns.plugins import implemented
from kdns.plugins.testing import load_text

PLUGINS = Path(__file__).parents[1] / "plugins"
ORDER = ["Name", "Description", "Syntax", "Metrics", "Ready", "Examples", "Bugs", "See Also"]
REQUIRED = {"Name", "Description", "Syntax", "Examples"}
EXAMPLE = re.compile(r"^~~~ corefile\n(.*?)^~~~$", re.S | re.M)


@pytest.mark.parametrize("name", implemented())
def test_readme_sections_in_coredns_order(name: str) -> None:
    """`# name`, Name, Description, Syntax, [Metrics], [Ready], Examples, [Bugs], [See Also]."""
    text = (PLUGINS / name / "README.md").read_text()
    assert text.startswith(f"# {name}\n")
    sections = re.findall(r"^## (.+)$", text, re.M)
    known = [s for s in sections if s in ORDER]
    assert set(known) >= REQUIRED, sections
    assert known == sorted(known, key=ORDER.index), sections


@pytest.mark.parametrize("name", implemented())
def test_readme_examples_pass_check(name: str) -> None:
    """Every `~~~ corefile` block loads without error."""
    examples = EXAMPLE.findall((PLUGINS / name / "README.md").read_text())
    assert examples, f"{name}/README.md has no ~~~ corefile example"
    for example in examples:
        load_text(example, path=f"plugins/{name}/README.md")
