"""Every Corefile under broken/ fails with the message and position its first line expects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdns.corefile import CorefileError, load
from kdns.plugins import default_registry

BROKEN = Path(__file__).parent / "broken"
EXPECT = re.compile(r"# expect: (?:(?P<file>[^:]+):)?(?P<line>\d+):(?P<col>\d+): (?P<text>.+)")
CASES = sorted(BROKEN.glob("*.corefile"))


def test_there_are_at_least_fifty_cases() -> None:
    """The issue asks for a corpus of at least 50 broken Corefiles."""
    assert len(CASES) >= 50


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_broken_corefile_reports_expected_error(path: Path) -> None:
    """The expected diagnostic is among the errors, at the expected file, line and column."""
    match = EXPECT.match(path.read_text().splitlines()[0])
    assert match, f"{path.name}: first line must be '# expect: [FILE:]LINE:COL: message'"
    with pytest.raises(CorefileError) as info:
        load(str(path), default_registry(), env={})
    found = [
        (Path(d.pos.file).resolve(), d.pos.line, d.pos.column, d.message) for d in info.value.errors
    ]
    want_file = (BROKEN / match["file"]).resolve() if match["file"] else path.resolve()
    want = (want_file, int(match["line"]), int(match["col"]))
    assert any(
        (f, line, col) == want and match["text"] in message for f, line, col, message in found
    ), f"expected {want[1]}:{want[2]}: {match['text']!r}, got {found}"
