"""Strategic merge patch (what `kubectl apply`, `edit` and `patch` send) for the served kinds.

Lists named in `MERGE_KEYS` are merged element by element (by their patchMergeKey, or as a
set of scalars), every other list is replaced, as the Go types' `patchStrategy` tags say. The
directives kubectl writes are honoured: `$patch` (replace, delete, merge), `$retainKeys`,
`$setElementOrder/FIELD` and `$deleteFromPrimitiveList/FIELD`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kdns.plugins.kubernetes.apiserver.errors import ApiError

Obj = dict[str, Any]
Path = tuple[str, ...]

_CONTAINER: dict[Path, str] = {
    ("ports",): "containerPort",
    ("env",): "name",
    ("volumeMounts",): "mountPath",
    ("volumeDevices",): "devicePath",
}
_POD_SPEC: dict[Path, str] = {
    ("volumes",): "name",
    ("imagePullSecrets",): "name",
    ("hostAliases",): "ip",
    ("topologySpreadConstraints",): "topologyKey",
    ("resourceClaims",): "name",
    ("schedulingGates",): "name",
}
for _field in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC[(_field,)] = "name"
    _POD_SPEC.update({(_field, *k): v for k, v in _CONTAINER.items()})
#: "" marks a list of scalars merged as a set (metadata.finalizers).
_META: dict[Path, str] = {("ownerReferences",): "uid", ("finalizers",): ""}


def _under(prefix: Path, keys: Mapping[Path, str]) -> dict[Path, str]:
    return {(*prefix, *k): v for k, v in keys.items()}


_COMMON = _under(("metadata",), _META)
#: kind -> field path (list indices left out) -> merge key, for the lists merged, not replaced.
MERGE_KEYS: dict[str, dict[Path, str]] = {
    "Service": {**_COMMON, ("spec", "ports"): "port"},
    "Pod": {**_COMMON, **_under(("spec",), _POD_SPEC), ("status", "conditions"): "type"},
    "Deployment": {
        **_COMMON,
        **_under(("spec", "template", "metadata"), _META),
        **_under(("spec", "template", "spec"), _POD_SPEC),
        ("status", "conditions"): "type",
    },
    "ServiceAccount": {**_COMMON, ("secrets",): "name"},
    "PodDisruptionBudget": {**_COMMON, ("status", "conditions"): "type"},
}

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


def strategic_merge(current: Obj, patch: Obj, kind: str) -> Obj:
    """Apply a strategic merge patch to an object of `kind`; 422 on a malformed patch."""
    if not isinstance(patch, dict):
        raise ApiError(422, "a strategic merge patch must be a JSON object", "Invalid")
    result = _map(current, patch, (), MERGE_KEYS.get(kind, _COMMON))
    if result is None:
        raise ApiError(422, "the patch deletes the whole object", "Invalid")
    return result


def _map(original: Any, patch: Obj, path: Path, keys: Mapping[Path, str]) -> Obj | None:
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    plain = {k: v for k, v in patch.items() if k != _DIRECTIVE}
    if directive == "replace":
        replaced: Obj = _strip(plain)
        return replaced
    if directive not in (None, "merge"):
        raise ApiError(422, f"unknown patch directive {directive!r}", "Invalid")
    result: Obj = dict(original) if isinstance(original, dict) else {}
    retain = plain.pop(_RETAIN, None)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    orders: dict[str, list[Any]] = {}
    for key in [k for k in plain if k.startswith((_ORDER, _DELETE_FROM))]:
        value = plain.pop(key)
        if key.startswith(_ORDER):
            orders[key[len(_ORDER) :]] = value if isinstance(value, list) else []
        elif isinstance(result.get(field := key[len(_DELETE_FROM) :]), list):
            result[field] = [v for v in result[field] if v not in (value or [])]
    for key, value in plain.items():
        sub = (*path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _map(result.get(key), value, sub, keys)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and sub in keys:
            result[key] = _list(result.get(key), value, sub, keys)
        else:
            result[key] = _strip(value)
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            result[key] = _reorder(result[key], order, keys.get((*path, key), ""))
    return result


def _list(original: Any, patch: list[Any], path: Path, keys: Mapping[Path, str]) -> list[Any]:
    current = list(original) if isinstance(original, list) else []
    key = keys[path]
    if not key:
        return current + [v for i, v in enumerate(patch) if v not in current and v not in patch[:i]]
    if any(isinstance(e, dict) and e.get(_DIRECTIVE) == "replace" for e in patch):
        return [_strip(e) for e in patch if not (isinstance(e, dict) and _DIRECTIVE in e)]
    for element in patch:
        if not isinstance(element, dict) or key not in element:
            raise ApiError(422, f"an element of {'.'.join(path)} has no merge key {key!r}")
        same = (
            i for i, e in enumerate(current) if isinstance(e, dict) and e.get(key) == element[key]
        )
        at = next(same, None)
        merged = _map(current[at] if at is not None else None, element, path, keys)
        if at is None:
            if merged is not None:
                current.append(merged)
        elif merged is None:
            del current[at]
        else:
            current[at] = merged
    return current


def _reorder(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """Put the elements `$setElementOrder` names first, in its order; the rest keep theirs."""

    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [o.get(key) if key and isinstance(o, dict) else o for o in order]
    rank = {w: i for i, w in enumerate(wanted) if isinstance(w, (str, int, float, bool))}
    named = sorted((i for i in items if ident(i) in rank), key=lambda i: rank[ident(i)])
    return named + [i for i in items if ident(i) not in rank]


def _strip(value: Any) -> Any:
    """A patch value with its directives dropped (for values the original does not have)."""
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if k not in (_DIRECTIVE, _RETAIN) and not k.startswith((_ORDER, _DELETE_FROM))
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
