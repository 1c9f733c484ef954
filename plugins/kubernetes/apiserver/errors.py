"""API errors as the real server reports them: a `Status` object with a code and a reason."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "AlreadyExists",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
    504: "Timeout",
}


def status(code: int, message: str, reason: str = "", details: Obj | None = None) -> Obj:
    """Build a failure `Status` object."""
    obj: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details is not None:
        obj["details"] = details
    return obj


class ApiError(Exception):
    """A request the API refuses; carries the `Status` object to send."""

    def __init__(self, code: int, message: str, reason: str = "", details: Obj | None = None):
        super().__init__(message)
        self.code = code
        self.status = status(code, message, reason, details)


def not_found(kind: str, plural: str, name: str, group: str = "") -> ApiError:
    """The 404 for a missing object, worded as the real server words it."""
    resource = f"{plural}.{group}" if group else plural
    return ApiError(
        404,
        f'{resource} "{name}" not found',
        details={"name": name, "group": group, "kind": plural},
    )


def expired(message: str) -> ApiError:
    """The 410 Gone for a resourceVersion or continue token older than the kept window."""
    return ApiError(410, message, "Expired")
