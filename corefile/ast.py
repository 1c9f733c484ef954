"""Directives: the lines inside a server block, with their arguments and nested blocks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kdns.corefile.errors import CorefileError, Position
from kdns.corefile.syntax_tree import Line, Word


@dataclass(frozen=True, slots=True)
class Directive:
    """A directive (or a property inside a directive's block): a name, arguments, a block.

    `block` is None when the directive has no braces, and a tuple (maybe empty) when it has.
    """

    name: Word
    args: tuple[Word, ...]
    block: tuple[Directive, ...] | None
    pos: Position
    open_pos: Position | None = None

    @classmethod
    def from_line(cls, line: Line) -> Directive:
        """Read a parsed line as a directive; a block must open on its directive's line."""
        if not line.words:
            raise CorefileError(
                "'{' must be on the same line as the directive it belongs to", line.pos
            )
        block = None if line.block is None else tuple(cls.from_line(x) for x in line.block)
        return cls(line.words[0], line.words[1:], block, line.pos, line.open_pos)

    @property
    def keyword(self) -> str:
        """Return the directive name as written."""
        return self.name.text

    @property
    def words(self) -> tuple[Word, ...]:
        """Return the name followed by the arguments."""
        return (self.name, *self.args)

    def last_word(self) -> Word:
        """Return the last word on the directive's line (for "missing X after Y" messages)."""
        return self.args[-1] if self.args else self.name

    def properties(self) -> Iterator[Directive]:
        """Iterate the lines of the block (nothing when there is no block)."""
        return iter(self.block or ())

    def no_args(self) -> None:
        """Raise unless the directive has no arguments."""
        if self.args:
            raise CorefileError(
                f"unexpected argument '{self.args[0].text}': '{self.keyword}' takes no arguments",
                self.args[0].pos,
            )

    def no_block(self) -> None:
        """Raise unless the directive has no block."""
        if self.block is not None:
            raise CorefileError(f"'{self.keyword}' takes no block", self.open_pos or self.pos)

    def bare(self) -> None:
        """Raise unless the directive is its name alone: no arguments and no block."""
        self.no_args()
        self.no_block()

    def unknown(self, known: tuple[str, ...] | list[str] = ()) -> CorefileError:
        """Return the error for a property this block does not know (raise it)."""
        from kdns.corefile.errors import did_you_mean

        hint = did_you_mean(self.keyword, known)
        if not hint and known:
            hint = " - expected one of: " + ", ".join(known)
        return CorefileError(f"unknown property '{self.keyword}'{hint}", self.pos)
