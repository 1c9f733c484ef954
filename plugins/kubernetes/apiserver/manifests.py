"""Kubernetes manifests read from files: multi-document YAML, JSON, and `List` kinds."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from kdns.plugins.kubernetes.apiserver.resources import BY_KIND

Obj = dict[str, Any]

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class ManifestError(ValueError):
    """A manifest file that cannot be read; the message names the file."""


def _documents(path: Path) -> Iterator[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ManifestError(f"{path}: {err.strerror or err}") from err
    if path.suffix == ".json":
        try:
            yield json.loads(text)
        except json.JSONDecodeError as err:
            raise ManifestError(f"{path}:{err.lineno}:{err.colno}: {err.msg}") from err
        return
    try:
        yield from yaml.load_all(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise ManifestError(f"{where}: {getattr(err, 'problem', None) or err}") from err


def _flatten(doc: Any, path: Path) -> Iterator[Obj]:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise ManifestError(f"{path}: a document is a {type(doc).__name__}, not an object")
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _flatten(item, path)
        return
    yield doc


def load(paths: Iterable[Path]) -> tuple[list[Obj], list[str]]:
    """Read every object from the files; return the served ones and warnings for the rest."""
    objects: list[Obj] = []
    warnings: list[str] = []
    for path in paths:
        for doc in _documents(path):
            for obj in _flatten(doc, path):
                kind = obj.get("kind")
                if kind not in BY_KIND:
                    warnings.append(f"{path}: kind {kind!r} is not served; ignored")
                    continue
                meta = obj.get("metadata")
                if not isinstance(meta, dict) or not meta.get("name"):
                    raise ManifestError(f"{path}: a {kind} without metadata.name")
                objects.append(obj)
    return objects, warnings
