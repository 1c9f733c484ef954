"""Fuzzing the Corefile loader and `kdns check` with mutated real Corefiles and random text.

tests/corefile/test_properties.py mutates characters; these mutate words and lines, where
plugin parsers live: an argument replaced by a hostile value (negative, huge, malformed
address, unterminated block, unset variable...), a line deleted, doubled or moved into
another block, raw bytes that are not UTF-8. Whatever comes out, loading either succeeds or
raises CorefileError whose every diagnostic names the file, line and column, and `kdns check`
prints its report with exit code 0 or 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kdns.corefile import Corefile, CorefileError, loads
from kdns.plugins import default_registry
from kdns.runtime.cli import main

from ..test_purity import NoFiles

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.corefile"))
SEEDS = [p.read_text() for p in CORPUS]
REGISTRY = default_registry()
PATH = "/fuzz/Corefile"

#: Values that plugin parsers must refuse politely (or accept).
HOSTILE = [
    "-1", "0", "1", "65536", "99999999999999999999", "1e9", "0x10", "NaN", "", '""', '"',
    "1h", "-5s", "0s", "1.5", "5m30s", "1d", "::", "[::1]:53", "256.0.0.1", "1.2.3",
    "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "*", "**", ".", "..", "a..b", "tls://",
    "https://x", "dns://:0", "dns://:70000", "grpc://1.1.1.1", "{", "}", "{}", "é", "\\",
    "/dev/null", "/nonexistent/file", "x" * 300, "{$UNSET}", "{%UNSET%}", "cluster.local",
    "in-addr.arpa", "10.in-addr.arpa", "force_tcp", "policy", "random", "max_fails",
    "expire", "health_check", "except", "prefetch", "serve_stale", "success", "denial",
    "fallthrough", "ttl", "pods", "verified", "insecure", "disabled", "endpoint",
    "namespaces", "labels", "lameduck", "consolidate", "stop", "import", "(snip)",
    "example.org:53", ":53", ".:0", "1.1.1.1:99999", "tls", "max_concurrent",
    "\ufeff", "\x00", "#",
]  # fmt: skip


def load_or_positioned_error(text: str) -> None:
    """Load `text`: a model, or a CorefileError whose diagnostics all have a position."""
    try:
        model = loads(text, REGISTRY, path=PATH, env={}, reader=NoFiles())
    except CorefileError as exc:
        failure = exc
    else:
        assert isinstance(model, Corefile)
        return
    assert failure.errors, "a CorefileError must carry an error"
    for d in failure.diagnostics:
        assert d.pos.file, d
        assert d.pos.line >= 1, d.headline()
        assert d.pos.column >= 1, d.headline()
        assert re.match(r"^.+:\d+:\d+: (error|warning): ", d.headline()), d.headline()


WORD = re.compile(r"(\s+)")


@st.composite
def word_mutations(draw: st.DrawFn) -> str:
    """A corpus Corefile with words replaced, deleted, doubled or hostile ones inserted."""
    parts = WORD.split(draw(st.sampled_from(SEEDS)))
    words = [i for i, p in enumerate(parts) if p and not p.isspace()]
    for _ in range(draw(st.integers(1, 4))):
        if not words:
            break
        i = draw(st.sampled_from(words))
        op = draw(st.sampled_from(["replace", "replace", "insert", "delete", "double"]))
        if op == "replace":
            parts[i] = draw(st.sampled_from(HOSTILE))
        elif op == "insert":
            parts[i] = f"{parts[i]} {draw(st.sampled_from(HOSTILE))}"
        elif op == "delete":
            parts[i] = ""
        else:
            parts[i] = f"{parts[i]} {parts[i]}"
    return "".join(parts)


@st.composite
def line_mutations(draw: st.DrawFn) -> str:
    """Corpus Corefiles with lines deleted, doubled, moved, or spliced from another file."""
    lines = draw(st.sampled_from(SEEDS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "double", "move", "splice"]))
        if op == "delete":
            del lines[i]
        elif op == "double":
            lines.insert(j, lines[i])
        elif op == "move":
            lines.insert(j, lines.pop(i))
        else:
            other = draw(st.sampled_from(SEEDS)).splitlines() or [""]
            lines.insert(j, other[draw(st.integers(0, len(other) - 1))])
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n", "\n}\n", "{\n"]))


FAST = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@FAST
@given(word_mutations())
def test_hostile_arguments_in_real_corefiles(text: str) -> None:
    """Plugin arguments replaced by hostile values: a model or a positioned CorefileError."""
    load_or_positioned_error(text)


@FAST
@given(line_mutations())
def test_moved_and_spliced_lines(text: str) -> None:
    """Lines deleted, doubled, moved between blocks: a model or a positioned CorefileError."""
    load_or_positioned_error(text)


@settings(max_examples=100, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_check_never_crashes_on_random_bytes(tmp_path_factory, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """`kdns check` on a file of random bytes (not UTF-8, NULs): a report, exit code 0 or 1."""
    path = tmp_path_factory.mktemp("c") / "Corefile"
    path.write_bytes(data)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check", str(path)])
    assert code in (0, 1)
    assert out.getvalue().rstrip().endswith(("ok, 0 warnings", "warning", "warnings")), out
    assert str(path) in out.getvalue()


def test_check_command_on_many_mutants(tmp_path: Path) -> None:
    """The installed command checks 60 mutants in one run: exit 0 or 1, a verdict per file,
    and nothing on stderr (no traceback)."""
    texts: list[str] = []

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(st.one_of(word_mutations(), line_mutations()))
    def collect(text: str) -> None:
        texts.append(text)

    collect()
    paths = []
    for i, text in enumerate(texts[:60]):
        path = tmp_path / f"m{i}.corefile"
        path.write_text(text)
        paths.append(str(path))
    done = subprocess.run(
        [sys.executable, "-m", "kdns.runtime", "check", *paths],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr == ""
    for path in paths:
        assert re.search(
            rf"^{re.escape(path)}: (ok|\d+ errors?), \d+ warnings?$", done.stdout, re.M
        )
