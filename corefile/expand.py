"""Imports, snippets and environment variables, applied to parsed lines.

`import` splices lines in place: a snippet defined earlier, or files matched by a path or
glob relative to the importing file. Environment references `{$NAME}` and `{%NAME%}` are
replaced inside each word, so a value never splits into several words (as in CoreDNS).
"""

from __future__ import annotations

import functools
import glob as globmod
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from kdns.corefile.errors import CorefileError, Diagnostic, Position
from kdns.corefile.parser import parse_lines
from kdns.corefile.syntax_tree import Line, Word

#: How deep imports may nest, and how many import statements one load may expand.
MAX_DEPTH = 64
MAX_IMPORTS = 10_000


class Reader:
    """Reads Corefiles from disk; tests substitute a dictionary-backed reader."""

    def read(self, path: str) -> str:
        """Return the text of the file at `path`."""
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def glob(self, pattern: str) -> list[str]:
        """Return the paths matching `pattern`, sorted."""
        return sorted(globmod.glob(pattern))

    def is_dir(self, path: str) -> bool:
        """Tell whether `path` is a directory."""
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        """Tell whether anything exists at `path`."""
        return os.path.exists(path)


def substitute_env(text: str, env: Mapping[str, str], unset: Callable[[str], None]) -> str:
    """Replace `{%NAME%}` then `{$NAME}` references in `text`, as CoreDNS does per token.

    `unset` is called with the name of each variable that is not set (it expands to "").
    """
    for start, end in (("{%", "%}"), ("{$", "}")):
        seen = 0
        while True:
            i = text.find(start)
            if i < 0:
                break
            j = text.find(end, i + len(start))
            if j < 0:
                break
            name = text[i + len(start) : j]
            if not name:
                break
            if name not in env:
                unset(name)
            text = text.replace(text[i : j + len(end)], env.get(name, ""))
            seen += 1
            if seen > 100:  # a value that refers to itself would expand forever
                break
    return text


@dataclass
class Expander:
    """Expands one Corefile and what it imports; collects warnings and the texts read."""

    reader: Reader
    env: Mapping[str, str]
    warnings: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    snippets: dict[str, tuple[Line, ...]] = field(default_factory=dict)
    _stack: list[str] = field(default_factory=list)
    _parsed: dict[str, tuple[Line, ...]] = field(default_factory=dict)
    #: Import globs seen, matched or not: a file appearing there changes the configuration.
    globs: list[str] = field(default_factory=list)
    _imports: int = 0

    def parse_file(self, path: str) -> tuple[Line, ...]:
        """Read and parse one file once per load, remembering its text for error reports."""
        if path not in self._parsed:
            text = self.reader.read(path)
            self.sources[path] = text
            self._parsed[path] = parse_lines(text, path)
        return self._parsed[path]

    def words(self, line: Line) -> tuple[Word, ...]:
        """Return the line's words with environment references substituted."""
        out = []
        for word in line.words:
            if "{" in word.text:

                def unset(name: str, word: Word = word) -> None:
                    self.warnings.append(
                        Diagnostic(
                            "warning",
                            word.pos,
                            f"environment variable '{name}' is not set: it expands to ''",
                        )
                    )

                word = word.with_text(substitute_env(word.text, self.env, unset))
            out.append(word)
        return tuple(out)

    def top(self, lines: tuple[Line, ...]) -> Iterator[Line]:
        """Expand top-level lines: imports spliced, snippets recorded and removed."""
        for line in lines:
            words = self.words(line)
            if self._is_import(words):
                for imported in self._import(words, line):
                    yield from self.top(imported)
                continue
            if len(words) == 1 and line.block is not None and _snippet_name(words[0]):
                self._define(words[0], line)
                continue
            body = None if line.block is None else tuple(self.body(line.block))
            yield Line(words, body, line.pos, line.open_pos, line.inline_close)

    def body(self, lines: tuple[Line, ...]) -> Iterator[Line]:
        """Expand the lines of a block, at any depth."""
        for line in lines:
            words = self.words(line)
            if self._is_import(words):
                for imported in self._import(words, line):
                    yield from self.body(imported)
                continue
            body = None if line.block is None else tuple(self.body(line.block))
            yield Line(words, body, line.pos, line.open_pos, line.inline_close)

    @staticmethod
    def _is_import(words: tuple[Word, ...]) -> bool:
        return bool(words) and words[0].text == "import" and not words[0].quoted

    def _define(self, word: Word, line: Line) -> None:
        name = word.text[1:-1]
        if name in self.snippets:
            raise CorefileError(f"snippet '{name}' is already defined", word.pos)
        self.snippets[name] = line.block or ()

    def _import(self, words: tuple[Word, ...], line: Line) -> Iterator[tuple[Line, ...]]:
        """Yield the lines each import target contributes, guarding cycles and depth."""
        keyword = words[0]
        if len(words) != 2:
            where = words[2].pos if len(words) > 2 else keyword.pos
            raise CorefileError(
                "import takes exactly one argument: a snippet name, a file or a glob", where
            )
        if line.block is not None:
            raise CorefileError("import takes no block", line.open_pos or line.pos)
        target = words[1]
        if not target.text:
            raise CorefileError("import needs a non-empty snippet name or path", target.pos)
        self._imports += 1
        if self._imports > MAX_IMPORTS:
            raise CorefileError(
                f"more than {MAX_IMPORTS} imports expanded: is an import repeating itself?",
                target.pos,
            )
        if target.text in self.snippets:
            yield from self._enter(
                f"snippet {target.text}", target.pos, lambda: self.snippets[target.text]
            )
            return
        for path in self._paths(target):
            yield from self._enter(path, target.pos, functools.partial(self.parse_file, path))

    def _enter(
        self, key: str, pos: Position, load: Callable[[], tuple[Line, ...]]
    ) -> Iterator[tuple[Line, ...]]:
        if key in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(key) :], key])
            raise CorefileError(f"import cycle: {cycle}", pos)
        if len(self._stack) >= MAX_DEPTH:
            raise CorefileError(f"imports nest deeper than {MAX_DEPTH} levels", pos)
        self._stack.append(key)
        try:
            try:
                lines = load()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise CorefileError(f"cannot import '{key}': {reason}", pos) from None
            yield lines
        finally:
            self._stack.pop()

    def _paths(self, target: Word) -> list[str]:
        pattern = target.text
        if not os.path.isabs(pattern):
            pattern = os.path.join(os.path.dirname(target.pos.file), pattern)
        is_glob = any(c in pattern for c in "*?[]")
        if is_glob:
            if (
                pattern.count("*") > 1
                or pattern.count("?") > 1
                or ("[" in pattern and "]" in pattern)
            ):
                raise CorefileError(
                    f"import glob '{target.text}' may contain only one wildcard '*' or '?', "
                    "as in CoreDNS",
                    target.pos,
                )
            self.globs.append(pattern)
            paths = [p for p in self.reader.glob(pattern) if not self.reader.is_dir(p)]
            if not paths:
                self.warnings.append(
                    Diagnostic("warning", target.pos, f"no files match import glob '{pattern}'")
                )
            return paths
        if not self.reader.exists(pattern):
            raise CorefileError(
                f"file to import not found: '{pattern}' (and no snippet '{target.text}' is "
                "defined before this line)",
                target.pos,
            )
        if self.reader.is_dir(pattern):
            raise CorefileError(f"cannot import '{pattern}': it is a directory", target.pos)
        return [pattern]


def _snippet_name(word: Word) -> bool:
    return len(word.text) > 2 and word.text.startswith("(") and word.text.endswith(")")
