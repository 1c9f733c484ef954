"""DNS over HTTPS (https://, RFC 8484) over real sockets: GET and POST on one kept-alive
HTTP/1.1 connection, Cache-Control from the smallest TTL, the error statuses, the metric, and
the max-age rules on their own.

dnspython's `dns.query.https` needs httpx, which kdns does not depend on, so the client here
is the standard library's http.client (run in a thread: the server shares the test's loop).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import ssl

import dns.message
import dns.rcode
import dns.rrset
import pytest

from kdns.runtime.doh import RESPONSES, max_age
from kdns.runtime.testing import free_port, running

from .certs import Certs, make_certs

MIME = "application/dns-message"
ANSWER = ["www.example.org. 42 10.0.0.1", "www.example.org. 42 10.0.0.2"]
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def corefile(port: int, certs: Certs) -> str:
    return f"""\
https://example.org:{port} {{
    tls {certs.server_cert} {certs.server_key}
    hosts {{
        10.0.0.1 www.example.org
        10.0.0.2 www.example.org
        ttl 42
    }}
}}
"""


def client(port: int, certs: Certs) -> http.client.HTTPSConnection:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return http.client.HTTPSConnection("localhost", port, context=ctx, timeout=3)


Exchange = tuple[int, dict[str, str], bytes]


def exchange(
    conn: http.client.HTTPSConnection,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Exchange:
    conn.request(method, target, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def b64(wire: bytes) -> str:
    return base64.urlsafe_b64encode(wire).decode().rstrip("=")


def query(name: str = "www.example.org", rdtype: str = "A", ident: int = 0) -> bytes:
    # RFC 8484 asks clients to use ID 0 so that GET URLs cache well.
    msg = dns.message.make_query(name, rdtype)
    msg.id = ident
    return msg.to_wire()


def addresses(wire: bytes) -> list[str]:
    msg = dns.message.from_wire(wire)
    return sorted(f"{rrs.name} {rrs.ttl} {rd}" for rrs in msg.answer for rd in rrs)


async def test_get_and_post_on_one_kept_alive_connection(certs: Certs) -> None:
    """GET ?dns= and POST both answer with application/dns-message and max-age = smallest TTL,
    over one HTTP/1.1 connection (ALPN picks http/1.1 even when the client offers h2)."""
    port = free_port()
    async with running(corefile(port, certs)):
        conn = client(port, certs)
        try:
            status, headers, body = await asyncio.to_thread(
                exchange, conn, "GET", f"/dns-query?dns={b64(query(ident=7))}"
            )
            assert conn.sock is not None
            assert conn.sock.selected_alpn_protocol() == "http/1.1"  # type: ignore[attr-defined]
            sock = conn.sock
            assert status == 200
            assert headers["content-type"] == MIME
            assert headers["cache-control"] == "max-age=42"
            assert dns.message.from_wire(body).id == 7
            assert addresses(body) == [
                "www.example.org. 42 10.0.0.1",
                "www.example.org. 42 10.0.0.2",
            ]

            post = {"Content-Type": MIME, "Accept": MIME}
            status, headers, body = await asyncio.to_thread(
                exchange, conn, "POST", "/dns-query", query(), post
            )
            assert (status, headers["content-type"]) == (200, MIME)
            assert addresses(body) == [
                "www.example.org. 42 10.0.0.1",
                "www.example.org. 42 10.0.0.2",
            ]
            # NODATA carries no record: CoreDNS's fail-safe of 5 seconds.
            status, headers, body = await asyncio.to_thread(
                exchange, conn, "POST", "/dns-query", query(rdtype="AAAA"), post
            )
            assert dns.message.from_wire(body).rcode() == dns.rcode.NOERROR
            assert headers["cache-control"] == "max-age=5"
            assert conn.sock is sock, "the connection was not kept alive"
        finally:
            conn.close()


def _garbage_header() -> bytes:
    # A header that promises one question and no question: dnslib cannot parse it.
    return bytes.fromhex("1234 0100 0001 0000 0000 0000".replace(" ", ""))


def _response() -> bytes:
    msg = dns.message.from_wire(query())
    return dns.message.make_response(msg).to_wire()


ERRORS = [
    pytest.param("GET", "/resolve?dns=" + b64(query()), None, {}, 404, id="other-path"),
    pytest.param("GET", "/", None, {}, 404, id="root-path"),
    pytest.param("GET", "/dns-query", None, {}, 400, id="get-without-dns"),
    pytest.param("GET", "/dns-query?dns=***", None, {}, 400, id="get-not-base64url"),
    pytest.param("GET", "/dns-query?dns=AAAA&dns=AAAA", None, {}, 400, id="get-two-dns"),
    pytest.param("GET", "/dns-query?dns=" + b64(b"\x01\x02\x03"), None, {}, 400, id="get-short"),
    pytest.param("GET", "/dns-query?dns=" + b64(_response()), None, {}, 400, id="get-a-response"),
    pytest.param("POST", "/dns-query", query(), TEXT, 415, id="post-text"),
    pytest.param("POST", "/dns-query", query(), {}, 415, id="post-no-content-type"),
    pytest.param(
        "POST", "/dns-query", _garbage_header(), {"Content-Type": MIME}, 400, id="post-unparseable"
    ),
    pytest.param("PUT", "/dns-query", query(), {"Content-Type": MIME}, 405, id="put"),
    pytest.param("DELETE", "/dns-query", None, {}, 405, id="delete"),
]


@pytest.mark.parametrize(("method", "target", "body", "headers", "status"), ERRORS)
async def test_error_statuses(
    certs: Certs,
    method: str,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    """Each bad request gets its status; the connection stays usable for the next request."""
    port = free_port()
    async with running(corefile(port, certs)):
        conn = client(port, certs)
        try:
            got, got_headers, _ = await asyncio.to_thread(
                exchange, conn, method, target, body, headers
            )
            assert got == status
            assert not got_headers["content-type"].startswith(MIME)
            if status == 405:
                assert got_headers["allow"] == "GET, POST"
            sock = conn.sock
            got, _, reply = await asyncio.to_thread(
                exchange, conn, "GET", f"/dns-query?dns={b64(query())}"
            )
            assert got == 200
            assert addresses(reply) == ANSWER
            assert conn.sock is sock
        finally:
            conn.close()


async def test_malformed_http_and_http2_preface_are_refused(certs: Certs) -> None:
    """A request line that is not HTTP gets 400, HTTP/2's preface 505; both close."""
    port = free_port()
    async with running(corefile(port, certs)):
        ctx = ssl.create_default_context(cafile=str(certs.ca))
        for raw, status in (
            (b"HELLO\r\n\r\n", b"400"),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"505"),
        ):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
            )
            try:
                writer.write(raw)
                data = await asyncio.wait_for(reader.read(), 3)  # read() ends at close
                assert data.startswith(b"HTTP/1.1 " + status), data
                assert b"Connection: close" in data
            finally:
                writer.close()
                await writer.wait_closed()


async def test_responses_metric_counts_statuses(certs: Certs) -> None:
    """coredns_dns_https_responses_total{server, status}, as CoreDNS counts them."""
    port = free_port()
    label = f"https://:{port}"
    # The counter lives for the whole run and an earlier test may have had this port.
    before = {status: RESPONSES.get((label, status)) for status in ("200", "404")}
    async with running(corefile(port, certs)):
        conn = client(port, certs)
        try:
            for target in ("/dns-query?dns=" + b64(query()), "/nothing", "/nothing"):
                await asyncio.to_thread(exchange, conn, "GET", target)
        finally:
            conn.close()
    assert RESPONSES.get((label, "200")) - before["200"] == 1
    assert RESPONSES.get((label, "404")) - before["404"] == 2


def reply(rcode: int = 0, *records: str, opt: bool = False) -> bytes:
    msg = dns.message.make_response(dns.message.make_query("a.example.org", "A", use_edns=opt))
    msg.set_rcode(rcode)
    for text in records:
        section, name, ttl, rdtype, rdata = text.split(" ", 4)
        rrset = dns.rrset.from_text(name, int(ttl), "IN", rdtype, rdata)
        {"an": msg.answer, "ns": msg.authority, "ar": msg.additional}[section].append(rrset)
    return msg.to_wire()


SOA = "example.org. 60 SOA ns.example.org. h.example.org. 1 2 3 4 5"


@pytest.mark.parametrize(
    ("wire", "age"),
    [
        pytest.param(reply(0, "an a.example.org. 300 A 10.0.0.1"), 300, id="answer"),
        pytest.param(
            reply(0, "an a.example.org. 300 A 10.0.0.1", "ar x.example.org. 20 A 10.0.0.2"),
            20,
            id="smallest-of-all-sections",
        ),
        pytest.param(reply(3, f"ns {SOA}"), 60, id="nxdomain-soa"),
        pytest.param(reply(0, f"ns {SOA}"), 60, id="nodata-soa"),
        pytest.param(reply(0, "an a.example.org. 7200 A 10.0.0.1"), 3600, id="at-most-an-hour"),
        pytest.param(reply(0, opt=True), 5, id="no-records-opt-only"),
        pytest.param(reply(2, "an a.example.org. 300 A 10.0.0.1"), 5, id="servfail"),
        pytest.param(reply(5), 5, id="refused"),
        pytest.param(reply(0, "ns example.org. 300 NS ns.example.org."), 5, id="delegation"),
        pytest.param(b"\x00\x01\x81\x80\x00\x01", 5, id="truncated"),
    ],
)
def test_max_age(wire: bytes, age: int) -> None:
    """max-age follows CoreDNS's MinimalTTL: the smallest TTL, 5 s as a fail-safe."""
    assert max_age(wire) == age
