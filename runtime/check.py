"""`kdns check`: load Corefiles the way serve does and report every diagnostic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TextIO

from kdns.corefile import Corefile, CorefileError, Diagnostic, PluginSpec, Reader, load
from kdns.corefile.explain import explain, order_warnings


@dataclass
class FileReport:
    """The outcome of checking one Corefile."""

    path: str
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)
    model: Corefile | None = None

    @property
    def valid(self) -> bool:
        """Tell whether the file loaded without errors."""
        return self.model is not None


class _RecordingReader(Reader):
    """A reader that keeps what it read, for printing source lines under diagnostics."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def read(self, path: str) -> str:
        text = super().read(path)
        self.texts[path] = text
        return text


def check_file(
    path: str, registry: Mapping[str, PluginSpec], *, explain_order: bool = False
) -> FileReport:
    """Load one Corefile and return its diagnostics, errors first."""
    reader = _RecordingReader()
    try:
        model = load(path, registry, reader=reader)
    except CorefileError as exc:
        return FileReport(path, list(exc.diagnostics), {**reader.texts, **exc.sources})
    found = list(model.warnings)
    if explain_order:
        found.extend(order_warnings(model, registry))
    return FileReport(path, found, reader.texts, model)


def render_text(report: FileReport, registry: Mapping[str, PluginSpec], explain_: bool) -> str:
    """Render a report as diagnostics with source lines and carets, then a summary."""
    out = []
    for d in report.diagnostics:
        out.append(d.headline())
        source = report.sources.get(d.pos.file)
        if source is not None and d.pos.line > 0:
            lines = source.removeprefix("\ufeff").replace("\r", "").split("\n")
            if d.pos.line <= len(lines):
                text = lines[d.pos.line - 1].replace("\t", " ")
                out.append(f"    {text}")
                out.append("    " + " " * (d.pos.column - 1) + "^")
    errors = sum(d.severity == "error" for d in report.diagnostics)
    warnings = len(report.diagnostics) - errors
    if report.model is not None and explain_:
        out.append(explain(report.model, registry))
    verdict = "ok" if report.valid else f"{errors} error{'s' * (errors != 1)}"
    out.append(f"{report.path}: {verdict}, {warnings} warning{'s' * (warnings != 1)}")
    return "\n".join(out)


def render_json(reports: Sequence[FileReport]) -> str:
    """Render reports as one JSON document."""
    return json.dumps(
        {
            "files": [
                {
                    "file": r.path,
                    "valid": r.valid,
                    "diagnostics": [d.as_dict() for d in r.diagnostics],
                }
                for r in reports
            ]
        },
        indent=2,
    )


def run_check(
    paths: Sequence[str],
    registry: Mapping[str, PluginSpec],
    *,
    fmt: Literal["text", "json"] = "text",
    explain_: bool = False,
    out: TextIO,
) -> int:
    """Check each file, print the reports to `out`; return 0 if all are valid, else 1."""
    reports = [check_file(p, registry, explain_order=explain_) for p in paths]
    if fmt == "json":
        print(render_json(reports), file=out)
    else:
        print("\n\n".join(render_text(r, registry, explain_) for r in reports), file=out)
    return 0 if all(r.valid for r in reports) else 1
