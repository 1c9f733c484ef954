"""DNS over HTTPS (RFC 8484) on HTTP/1.1: one connection's requests, answered in turn.

`/dns-query` takes GET with `?dns=` (base64url, no padding) and POST with an
`application/dns-message` body; replies are `application/dns-message` with a Cache-Control
max-age of the smallest TTL in the answer. Other paths get 404, other methods 405, another
content type 415, anything unreadable 400. Connections stay open (keep-alive) until idle.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from kdns.plugins.base import FORMERR
from kdns.plugins.metrics import REGISTRY
from kdns.plugins.wire import ttl_offsets
from kdns.runtime.dispatch import ZoneMux, error_reply

PATH = "/dns-query"
MIME = "application/dns-message"
#: Seconds a keep-alive connection may sit idle, and a request may take to arrive.
IDLE_TIMEOUT = 10.0
#: The largest request head and body read (a DNS message is at most 65535 bytes).
MAX_HEAD = 8192
MAX_BODY = 65535
#: CoreDNS's bounds on max-age (dnsutil.MinimalDefaultTTL, MaximumDefaulTTL).
MIN_AGE, MAX_AGE = 5, 3600
SOA, NS = 6, 2

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    505: "HTTP Version Not Supported",
}

RESPONSES = REGISTRY.counter(
    "coredns_dns_https_responses_total",
    "Counter of DoH responses per server and http status code.",
    ("server", "status"),
)

#: The zone mux of the connection's listener right now; None once it should close.
MuxLookup = Callable[[], ZoneMux | None]


@dataclass(slots=True)
class HttpRequest:
    """The parts of an HTTP/1.x request head DoH looks at."""

    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)

    def keep_alive(self) -> bool:
        """Tell whether the client wants the connection kept open after this request."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


@dataclass(slots=True)
class HttpResponse:
    """A status, its extra headers and a body."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self, keep_alive: bool) -> bytes:
        """Return the response as bytes on the wire."""
        lines = [
            f"HTTP/1.1 {self.status} {REASONS.get(self.status, '')}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def error(status: int, message: str, **headers: str) -> HttpResponse:
    """Return a plain-text error response, as Go's http.Error writes one."""
    extra = {"X-Content-Type-Options": "nosniff", **headers}
    return HttpResponse(status, (message + "\n").encode(), headers=extra)


def parse_head(head: bytes) -> HttpRequest | None:
    """Parse a request line and headers; None if they do not read as an HTTP request."""
    first, *rest = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    parts = first.split(" ")
    if len(parts) != 3:
        return None
    request = HttpRequest(parts[0], parts[1], parts[2])
    for line in rest:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            return None
        request.headers[name.lower()] = value.strip()
    return request


def decode_get(query: str) -> bytes | str:
    """Return the DNS message of `?dns=`, or the reason it is missing or unreadable."""
    values = parse_qs(query, keep_blank_values=True).get("dns")
    if not values:
        return "no 'dns' query parameter found"
    if len(values) != 1:
        return "multiple 'dns' query values found"
    text = values[0].rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return "the 'dns' query parameter is not base64url"


def max_age(wire: bytes) -> int:
    """Return the seconds a reply may be cached: its smallest TTL, as CoreDNS's MinimalTTL.

    Errors other than NXDOMAIN, delegations and replies without records get 5 s; no reply
    is cached longer than an hour. The OPT record's TTL field holds flags, not a TTL.
    """
    try:
        offsets, _ = ttl_offsets(wire)
    except ValueError:
        return MIN_AGE
    if wire[3] & 0xF not in (0, 3) or not offsets:
        return MIN_AGE
    an, ns = struct.unpack_from("!HH", wire, 6)
    if wire[3] & 0xF == 0 and an == 0:
        # With no answer, the first `ns` records with a TTL are the authority section.
        authority = {struct.unpack_from("!H", wire, at - 4)[0] for at in offsets[:ns]}
        if NS in authority and SOA not in authority:
            return MIN_AGE
    smallest: int = min(struct.unpack_from("!I", wire, at)[0] for at in offsets)
    return min(smallest, MAX_AGE)


async def answer(
    mux: ZoneMux, data: bytes, remote: tuple[str, int], here: tuple[str, int]
) -> HttpResponse:
    """Answer one DNS message through the listener's zones; proto is "tcp", as in CoreDNS."""
    if len(data) < 12 or data[2] & 0x80:
        return error(400, "not a DNS query")
    reply = mux.fast(data, "tcp", remote)
    if reply is None:
        replies: list[bytes] = []
        await mux.handle(data, "tcp", remote, here, replies.append)
        if not replies:
            return error(500, "No response")
        reply = replies[0]
        if reply == error_reply(data, FORMERR):  # the message could not be parsed
            return error(400, "bad DNS message")
    return HttpResponse(200, reply, MIME, {"Cache-Control": f"max-age={max_age(reply)}"})


async def respond(
    request: HttpRequest,
    body: bytes,
    mux: ZoneMux,
    remote: tuple[str, int],
    here: tuple[str, int],
) -> HttpResponse:
    """Route one request: the DoH path and methods, then the DNS answer."""
    path, _, query = request.target.partition("?")
    if path != PATH:
        return error(404, "404 page not found")
    if request.method == "GET":
        data = decode_get(query)
        if isinstance(data, str):
            return error(400, data)
    elif request.method == "POST":
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != MIME:
            return error(415, f"content type must be {MIME}")
        data = body
    else:
        return error(405, f"method not allowed: {request.method}", Allow="GET, POST")
    return await answer(mux, data, remote, here)


async def read_body(
    request: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes | HttpResponse:
    """Read the request's body (Content-Length only), or return why it is refused.

    Raises OSError, TimeoutError or IncompleteReadError when the connection breaks.
    """
    if not request.version.startswith("HTTP/1."):
        return error(505, "only HTTP/1.1 is served")
    if "transfer-encoding" in request.headers:
        return error(400, "chunked bodies are not accepted: send Content-Length")
    length = request.headers.get("content-length", "0")
    if not length.isdigit():
        return error(400, "bad Content-Length")
    size = int(length)
    if size > MAX_BODY:
        return error(413, "a DNS message is at most 65535 bytes")
    if size and request.headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    async with asyncio.timeout(IDLE_TIMEOUT):
        return await reader.readexactly(size)


async def serve_https(
    lookup: MuxLookup,
    label: str,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    remote: tuple[str, int],
    here: tuple[str, int],
) -> None:
    """Serve DoH requests on one (TLS) connection until it closes, idles or must stop."""
    while True:
        try:
            async with asyncio.timeout(IDLE_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            request = parse_head(head) if len(head) <= MAX_HEAD else None
            body = b"" if request is None else await read_body(request, reader, writer)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            return
        mux = lookup()
        if mux is None:
            return
        if request is None:
            response, keep = error(400, "malformed HTTP request"), False
        elif isinstance(body, HttpResponse):
            response, keep = body, False  # the rest of the stream cannot be trusted
        else:
            response = await respond(request, body, mux, remote, here)
            keep = request.keep_alive()
        RESPONSES.inc((label, str(response.status)))
        if writer.is_closing():
            return
        writer.write(response.encode(keep))
        try:
            await writer.drain()
        except OSError:
            return
        if not keep:
            return
