"""Positions, diagnostics and the one error type the Corefile pipeline raises."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where something was written: file, 1-based line and 1-based column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of the checker: an error or a warning at a position."""

    severity: Severity
    pos: Position
    message: str
    plugin: str | None = None

    def headline(self) -> str:
        """Return `FILE:LINE:COL: severity: plugin/NAME: message` on one line."""
        who = f"plugin/{self.plugin}: " if self.plugin else ""
        return f"{self.pos}: {self.severity}: {who}{self.message}"

    def as_dict(self) -> dict[str, object]:
        """Return the fields as plain JSON-ready values."""
        return {
            "file": self.pos.file,
            "line": self.pos.line,
            "column": self.pos.column,
            "severity": self.severity,
            "plugin": self.plugin,
            "message": self.message,
        }


class CorefileError(Exception):
    """A Corefile could not be loaded; carries every diagnostic found, errors first.

    Raised with one diagnostic by the helpers plugins call (`CorefileError(msg, pos)`);
    `kdns.corefile.load` gathers them and raises one error holding all of them.
    """

    def __init__(
        self,
        message: str,
        pos: Position,
        *,
        plugin: str | None = None,
        diagnostics: Iterable[Diagnostic] = (),
    ) -> None:
        found = tuple(diagnostics) or (Diagnostic("error", pos, message, plugin),)
        super().__init__(found[0].headline())
        self.diagnostics: tuple[Diagnostic, ...] = found
        self.sources: dict[str, str] = {}

    @property
    def pos(self) -> Position:
        """Return the position of the first error."""
        return self.errors[0].pos if self.errors else self.diagnostics[0].pos

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """Return the diagnostics that are errors."""
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @classmethod
    def collect(
        cls, diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None
    ) -> CorefileError:
        """Build one error from many diagnostics (at least one must be an error)."""
        ordered = sorted(diagnostics, key=lambda d: (d.severity != "error", d.pos))
        first = next(d for d in ordered if d.severity == "error")
        err = cls(first.message, first.pos, plugin=first.plugin, diagnostics=ordered)
        err.sources = dict(sources or {})
        return err


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ` - did you mean 'X'?` for the closest choice, or an empty string."""
    import difflib

    # Compare in lower case, so upper-case choices (AAAA, NXDOMAIN) can be suggested too.
    spelled = {c.lower(): c for c in sorted(set(choices))}
    close = difflib.get_close_matches(word.lower(), list(spelled), n=1, cutoff=0.7)
    return f" - did you mean '{spelled[close[0]]}'?" if close else ""
