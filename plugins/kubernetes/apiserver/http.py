"""Just enough HTTP/1.1 for Kubernetes clients: keep-alive requests and chunked watch streams."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


class HttpError(Exception):
    """A request that cannot be read; the connection is answered 400 and closed."""


@dataclass(slots=True)
class Request:
    """One parsed request: method, path, query (last value wins), headers (lower case), body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless the client says close."""
        return self.headers.get("connection", "").lower() != "close"


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request; None when the client closed the connection between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial.strip():
            return None
        raise HttpError("incomplete request head") from err
    except asyncio.LimitOverrunError as err:
        raise HttpError("request head too large") from err
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError as err:
        raise HttpError(f"bad request line {lines[0]!r}") from err
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise HttpError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    elif length := int(headers.get("content-length", "0") or 0):
        if length > MAX_BODY:
            raise HttpError("request body too large")
        body = await reader.readexactly(length)
    url = urlsplit(target)
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    return Request(method.upper(), unquote(url.path), query, headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _status_line(code: int) -> bytes:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {code} {phrase}\r\n".encode()


def response(
    code: int, body: bytes, content_type: str = "application/json", keep_alive: bool = True
) -> bytes:
    """A complete response with Content-Length."""
    head = (
        _status_line(code)
        + (
            f"Content-Type: {content_type}\r\n"
            "Cache-Control: no-cache, private\r\n"
            f"Content-Length: {len(body)}\r\n"
            + ("" if keep_alive else "Connection: close\r\n")
            + "\r\n"
        ).encode()
    )
    return head + body


def chunked_head(content_type: str = "application/json") -> bytes:
    """The head of a streamed (watch) response."""
    return (
        _status_line(200)
        + (
            f"Content-Type: {content_type}\r\n"
            "Cache-Control: no-cache, private\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
    )


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
