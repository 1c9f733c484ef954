"""Edits on Corefile text that keep every untouched byte: spans of lines, words and blocks.

`kdns migrate` rewrites a few directives and must leave comments, blank lines, indentation and
everything else exactly as written, so it edits the original text by offsets instead of
rendering a syntax tree back to text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kdns.corefile.errors import Position
from kdns.corefile.syntax_tree import Line, Word


@dataclass(frozen=True, slots=True, order=True)
class Edit:
    """Replace `text[start:end]` with `new` (an insertion when start == end)."""

    start: int
    end: int
    new: str = ""


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits to `text`; raise ValueError if two of them overlap."""
    out: list[str] = []
    at = 0
    for edit in sorted(edits):
        if edit.start < at:
            raise ValueError(f"overlapping edits at offset {edit.start}")
        out.append(text[at : edit.start])
        out.append(edit.new)
        at = edit.end
    out.append(text[at:])
    return "".join(out)


class Source:
    """Corefile text (BOM and carriage returns already removed) with position arithmetic."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]

    def offset(self, pos: Position) -> int:
        """Return the offset of a 1-based line and column."""
        return self._starts[pos.line - 1] + pos.column - 1

    def line_start(self, at: int) -> int:
        """Return the offset where the line holding `at` starts."""
        return self.text.rfind("\n", 0, at) + 1

    def line_end(self, at: int) -> int:
        """Return the offset of the newline ending the line holding `at` (or the text's end)."""
        end = self.text.find("\n", at)
        return len(self.text) if end < 0 else end

    def indent(self, at: int) -> str:
        """Return the whitespace that starts the line holding `at`."""
        start = self.line_start(at)
        line = self.text[start : self.line_end(at)]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def word_end(self, word: Word) -> int:
        """Return the offset just after `word` as written (quotes included)."""
        return self._token_end(self.offset(word.pos))

    def _token_end(self, at: int) -> int:
        text = self.text
        if text[at] == '"':
            i = at + 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            return min(i + 1, len(text))
        i = at
        while i < len(text) and not text[i].isspace() and text[i] != "#":
            i += 1
        return i

    def block_end(self, line: Line) -> int:
        """Return the offset just after the `}` that closes `line`'s block."""
        assert line.open_pos is not None
        depth = 0
        i = self.offset(line.open_pos)
        text = self.text
        while i < len(text):
            c = text[i]
            if c.isspace():
                i += 1
            elif c == "#":
                i = self.line_end(i)
            else:
                end = self._token_end(i)
                token = text[i:end]
                if token == "{":
                    depth += 1
                elif token == "}":
                    depth -= 1
                    if depth == 0:
                        return end
                i = end
        return len(text)

    def span(self, line: Line) -> tuple[int, int]:
        """Return the offsets a directive covers: first word to last word or closing brace."""
        start = self.offset(line.words[0].pos if line.words else line.pos)
        end = self.block_end(line) if line.block is not None else self.word_end(line.words[-1])
        return start, end

    def standalone(self, start: int, end: int) -> bool:
        """Tell whether only blanks precede `start` on its line and only blanks or a comment
        follow `end` on its line."""
        before = self.text[self.line_start(start) : start]
        after = self.text[end : self.line_end(end)].lstrip(" \t")
        return not before.strip() and (not after or after.startswith("#"))

    def delete(self, start: int, end: int) -> Edit:
        """Return the edit deleting a span: whole lines when the span stands alone on them,
        else the span and the blanks before it."""
        if self.standalone(start, end):
            line_end = self.line_end(end)
            return Edit(self.line_start(start), min(line_end + 1, len(self.text)))
        lead = start
        while lead > 0 and self.text[lead - 1] in " \t":
            lead -= 1
        return Edit(lead, end)

    def delete_line(self, line: Line) -> Edit:
        """Return the edit deleting a directive (with its block)."""
        return self.delete(*self.span(line))

    def block_unit(self, line: Line, default: str = "    ") -> str:
        """Return the indentation a block's lines add to their directive's indentation."""
        if line.block:
            outer = self.indent(self.offset(line.words[0].pos))
            inner = self.indent(self.offset(line.block[0].pos))
            if inner.startswith(outer) and len(inner) > len(outer):
                return inner[len(outer) :]
        return default
