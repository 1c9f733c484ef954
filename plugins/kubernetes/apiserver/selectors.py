"""List and watch filters: namespace, label selector and field selector, as the API reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kdns.plugins.kubernetes.apiserver.errors import ApiError
from kdns.plugins.kubernetes.apiserver.resources import Resource
from kdns.plugins.kubernetes.selector import LabelSelector, SelectorError, parse_selector

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One `field=value` or `field!=value` term of a field selector."""

    field: str
    operator: Literal["=", "!="]
    value: str


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` not escaped by a backslash (the API's field selector escaping)."""
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out, escaped = [], False
    for ch in text:
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def parse_field_selector(text: str, resource: Resource) -> tuple[FieldRequirement, ...]:
    """Parse a field selector; raise a 400 ApiError for bad syntax or unsupported fields."""
    terms: list[FieldRequirement] = []
    for part in _split(text, ","):
        if not part.strip():
            continue
        for op in ("!=", "==", "="):
            index = part.find(op)
            if index > 0:
                break
        else:
            raise ApiError(400, f"invalid field selector: '{part}': no operator")
        field = part[:index].strip()
        value = _unescape(part[index + len(op) :])
        if field not in resource.fields:
            raise ApiError(400, f"field label not supported: {field}")
        terms.append(FieldRequirement(field, "!=" if op == "!=" else "=", value))
    return tuple(terms)


@dataclass(frozen=True, slots=True)
class Filter:
    """What a list or watch asks for: namespace (None: all), labels, fields."""

    resource: Resource
    namespace: str | None = None
    labels: LabelSelector | None = None
    fields: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Obj) -> bool:
        """Tell whether an object passes every part of the filter."""
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace", "") != self.namespace:
            return False
        if self.labels is not None and not self.labels.matches(meta.get("labels") or {}):
            return False
        for term in self.fields:
            got = self.resource.fields[term.field](obj)
            if (got == term.value) != (term.operator == "="):
                return False
        return True

    @property
    def selects(self) -> bool:
        """Tell whether labels or fields narrow the result (then no remainingItemCount)."""
        return self.labels is not None or bool(self.fields)


def make_filter(resource: Resource, namespace: str | None, query: Mapping[str, str]) -> Filter:
    """Build the filter a request's query asks for; raise a 400 ApiError if it is invalid."""
    labels = None
    if text := query.get("labelSelector", "").strip():
        try:
            labels = parse_selector(text)
        except SelectorError as err:
            raise ApiError(400, f"unable to parse requirement: {err}") from err
    fields = parse_field_selector(query.get("fieldSelector", ""), resource)
    return Filter(resource, namespace, labels, fields)
