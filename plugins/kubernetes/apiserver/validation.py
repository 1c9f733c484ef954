"""`fieldValidation=Strict` (what kubectl sends by default): unknown or mistyped fields are a 400.

The checking is done against the Kubernetes JSON schemas kubernetes-validate ships (a test
dependency of kdns). Without that package installed, or for a kind it has no schema for (the
ServiceImport CRD), objects are stored as sent, as with `fieldValidation=Ignore`.
"""

from __future__ import annotations

import importlib
from typing import Any

from kdns.plugins.kubernetes.apiserver.errors import ApiError
from kdns.plugins.kubernetes.apiserver.resources import VERSION

Obj = dict[str, Any]

_UNSET: Any = object()
_loaded: Any = _UNSET


def _validator() -> Any:
    """kubernetes-validate, imported on first use (it brings jsonschema: not for `kdns serve`,
    which imports this package for its command line), or None where it is not installed."""
    global _loaded
    if _loaded is _UNSET:
        try:
            _loaded = importlib.import_module("kubernetes_validate")
        except ImportError:  # pragma: no cover - the test extra is not installed
            _loaded = None
    return _loaded


#: The schema version checked against: the version `/version` reports.
SCHEMA_VERSION = f"{VERSION['major']}.{VERSION['minor']}"


def available() -> bool:
    """Whether strict validation can be done here (kubernetes-validate is installed)."""
    return _validator() is not None


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def check(obj: Obj, directive: str) -> None:
    """Raise the 400 the real server gives when `directive` is Strict and `obj` is not valid."""
    validator = _validator()
    if directive != "Strict" or validator is None:
        return
    kind, version = str(obj.get("kind", "")), str(obj.get("apiVersion", ""))
    try:
        validator.validate(obj, SCHEMA_VERSION, strict=True)
    except validator.SchemaNotFoundError:
        return
    except validator.ValidationError as err:
        path = _field_path(err.path)
        if err.validator == "additionalProperties":
            known = set((err.schema or {}).get("properties") or {})
            extra = sorted(set(err.instance) - known) if isinstance(err.instance, dict) else []
            where = f"{path}." if path else ""
            detail = "strict decoding error: " + ", ".join(
                f'unknown field "{where}{name}"' for name in extra
            )
        else:
            detail = f"{path}: {err.message}" if path else err.message
        version = version.rpartition("/")[2]
        raise ApiError(
            400, f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}'
        ) from err
