"""forward: DNS-over-HTTPS (RFC 8484) over a kept-alive HTTP/1.1 connection."""

from __future__ import annotations

import base64

from kdns.plugins.forward.pool import StreamConn

#: The path CoreDNS asks on a DoH upstream written without one.
PATH = "/dns-query"
MEDIA_TYPE = "application/dns-message"
#: A reply bigger than this is not DNS (a DNS message is at most 65535 bytes).
MAX_BODY = 65535


class DohError(Exception):
    """The HTTP exchange failed or the server did not answer with a DNS message."""


def request(wire: bytes, authority: str, method: str) -> bytes:
    """Return the HTTP/1.1 request carrying the DNS message `wire` (GET or POST)."""
    if method == "GET":
        param = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()
        head = (
            f"GET {PATH}?dns={param} HTTP/1.1\r\nHost: {authority}\r\nAccept: {MEDIA_TYPE}\r\n\r\n"
        )
        return head.encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {authority}\r\nAccept: {MEDIA_TYPE}\r\n"
        f"Content-Type: {MEDIA_TYPE}\r\nContent-Length: {len(wire)}\r\n\r\n"
    )
    return head.encode() + wire


async def roundtrip(
    conn: StreamConn, wire: bytes, authority: str, method: str
) -> tuple[bytes, bool]:
    """Send `wire` over `conn`; return the reply and whether the connection may be kept."""
    conn.writer.write(request(wire, authority, method))
    await conn.writer.drain()
    status_line = await conn.reader.readline()
    if not status_line:
        raise EOFError("EOF")
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise DohError(f"malformed HTTP response: {status_line[:40]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = await conn.reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = await _body(conn, headers)
    keep = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
    if status != 200:
        raise DohError(f"unexpected HTTP status code {status}")
    return body, keep


async def _body(conn: StreamConn, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = await conn.reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await conn.reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise DohError("DoH reply too large")
            chunks.append(await conn.reader.readexactly(size))
            await conn.reader.readexactly(2)
    length = headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > MAX_BODY:
        raise DohError("DoH reply without a usable Content-Length")
    return await conn.reader.readexactly(int(length))
