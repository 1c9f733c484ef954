"""Property tests: whatever text the parser gets, only CorefileError escapes, with a position."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kdns.corefile import Corefile, CorefileError, Reader, loads
from kdns.plugins import default_registry

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.corefile"))
SEEDS = [p.read_text() for p in CORPUS]
REGISTRY = default_registry()


class MemoryReader(Reader):
    """Files from a dictionary, so imports in generated text never touch the disk."""

    files: ClassVar[dict[str, str]] = {
        "/c/part.conf": "whoami\n",
        "/c/loop.conf": "import loop.conf\n",
    }

    def read(self, path: str) -> str:
        if path not in self.files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return self.files[path]

    def glob(self, pattern: str) -> list[str]:
        import fnmatch

        return sorted(p for p in self.files if fnmatch.fnmatch(p, pattern))

    def is_dir(self, path: str) -> bool:
        return path in ("/", "/c", "/c/")

    def exists(self, path: str) -> bool:
        return path in self.files or self.is_dir(path)


TOKENS = st.sampled_from(
    [
        "{",
        "}",
        "\n",
        " ",
        "\t",
        "#",
        '"',
        "\\",
        ",",
        ":",
        ".",
        "(",
        ")",
        "$",
        "%",
        "/",
        "{$HOME}",
        "{%X%}",
        "import",
        "part.conf",
        "loop.conf",
        "*.conf",
        "(s)",
        "s",
        ".:53",
        "example.org",
        "10.0.0.0/22",
        "tls://",
        "cache",
        "30",
        "forward",
        "1.1.1.1",
        "log",
        "whoami",
        "kubernetes",
        "cluster.local",
        "fallthrough",
        "health",
        "bind",
        "\r",
        "\ufeff",
        "\u00a0",
        "é",
        "0",
        "-1",
        "1h",
        "abc",
        "{}",
        "}}",
        "x{",
    ]
)


def check(text: str) -> None:
    try:
        result = loads(
            text, REGISTRY, path="/c/Corefile", env={"HOME": "/h"}, reader=MemoryReader()
        )
    except CorefileError as exc:
        failure = exc
    else:
        assert isinstance(result, Corefile)
        assert result.servers
        return
    assert failure.errors, "a CorefileError must carry at least one error"
    for d in failure.diagnostics:
        assert d.pos.file
        assert d.pos.line >= 0
        assert d.pos.column >= 0


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=60).map("".join))
def test_random_token_soup(text: str) -> None:
    """Random mixes of Corefile tokens load or fail with a positioned CorefileError."""
    check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_unicode(text: str) -> None:
    """Arbitrary text, any code point, never crashes the loader."""
    check(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i, min(len(text), i + 20)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(TOKENS) + text[i:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[i:j] + text[:i] + text[j:]
    return text


@settings(max_examples=400, deadline=None)
@given(mutated())
# Found by a long run: a stray '}' before an unterminated quote broke the error path.
@example('} "{\n    log\n    whoami\n}\n\n. {\n    import mysnippet\n\n')
def test_mutated_real_corefiles(text: str) -> None:
    """Real Corefiles with bytes deleted, inserted, duplicated or moved never crash."""
    check(text)
