"""The syntax tree: words and lines with positions, before any meaning is given to them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kdns.corefile.errors import Position


@dataclass(frozen=True, slots=True)
class Word:
    """One token: its text (quotes removed, escapes applied) and where it starts."""

    text: str
    pos: Position
    quoted: bool = False

    def __str__(self) -> str:
        return self.text

    def with_text(self, text: str) -> Word:
        """Return the same word with other text (environment substitution)."""
        return replace(self, text=text)


@dataclass(frozen=True, slots=True)
class Line:
    """A line of words, optionally ending in a block of further lines.

    At the top of a file a line is a server block key line, a snippet or an import; inside a
    block it is a directive or one of its properties.
    """

    words: tuple[Word, ...]
    block: tuple[Line, ...] | None
    pos: Position
    #: Position of the `{` opening `block`.
    open_pos: Position | None = None
    #: Set when the last line of `block` was closed by `}` on that same line.
    inline_close: Position | None = None
