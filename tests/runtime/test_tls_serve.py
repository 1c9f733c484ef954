"""DNS over TLS (tls://, RFC 7858) over real sockets: dnspython and kdig as clients, ALPN "dot",
several queries on one connection, mutual TLS, the proto label, and the refusals at serve."""

from __future__ import annotations

import asyncio
import ssl
import struct
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from kdns.plugins.prometheus.metrics import REQUESTS
from kdns.runtime.server import StartError
from kdns.runtime.testing import free_port, running

from .certs import Certs, make_certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def client_context(
    certs: Certs, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def corefile(port: int, certs: Certs, options: str = "", extra: str = "") -> str:
    return (
        f"tls://example.org:{port} {{\n"
        f"    tls {certs.server_cert} {certs.server_key} {certs.ca}{options}\n"
        f"{extra}"
        "    whoami\n"
        "}\n"
    )


async def dot(port: int, ctx: ssl.SSLContext, name: str = "www.example.org") -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    return await dns.asyncquery.tls(
        query, "127.0.0.1", port=port, ssl_context=ctx, server_hostname="localhost", timeout=3
    )


def whoami(reply: dns.message.Message) -> dict[str, str]:
    """Return the whoami additional section by type: the client address and `_tcp`/`_udp`."""
    return {dns.rdatatype.to_text(r.rdtype): f"{r.name} {r[0]}" for r in reply.additional}


async def kdig(port: int, certs: Certs, *extra: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "kdig", "@127.0.0.1", "-p", str(port), f"+tls-ca={certs.ca}", "+tls-hostname=localhost",
        "+timeout=2", "+retry=0", *extra, "www.example.org", "A",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return out.decode()


async def test_dnspython_and_kdig_get_answers_over_tls(certs: Certs) -> None:
    """dnspython and kdig +tls both get whoami's answer; it sees a TCP client (`_tcp`)."""
    port = free_port()
    metrics = free_port()
    async with running(corefile(port, certs, extra=f"    prometheus 127.0.0.1:{metrics}\n")):
        reply = await dot(port, client_context(certs))
        assert reply.rcode() == dns.rcode.NOERROR
        assert whoami(reply)["A"] == "www.example.org. 127.0.0.1"
        assert whoami(reply)["SRV"].startswith("_tcp.www.example.org. ")
        out = await kdig(port, certs)
        assert "TLS session" in out, out
        assert "status: NOERROR" in out, out
        assert "_tcp.www.example.org." in out, out
    label = (f"tls://:{port}", "example.org.", "", "tcp", "1", "A")
    assert REQUESTS.values.get(label) == 2, [k for k in REQUESTS.values if str(port) in k[0]]


async def test_alpn_dot_and_several_queries_on_one_connection(certs: Certs) -> None:
    """The server picks ALPN "dot"; two pipelined queries on one connection get two replies."""
    port = free_port()
    async with running(corefile(port, certs)):
        ctx = client_context(certs)
        ctx.set_alpn_protocols(["h2", "dot"])
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
        )
        try:
            assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "dot"
            for ident, name in ((1, "a.example.org"), (2, "b.example.org")):
                wire = dns.message.make_query(name, "A", id=ident).to_wire()
                writer.write(struct.pack("!H", len(wire)) + wire)
            got = []
            for _ in range(2):
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                got.append(dns.message.from_wire(await reader.readexactly(length)))
            assert sorted((m.id, str(m.question[0].name)) for m in got) == [
                (1, "a.example.org."),
                (2, "b.example.org."),
            ]
        finally:
            writer.close()
            await writer.wait_closed()


async def test_plain_tcp_to_a_tls_port_gets_no_answer(certs: Certs) -> None:
    """A client that skips the handshake is dropped; the listener keeps serving TLS clients."""
    port = free_port()
    async with running(corefile(port, certs)):
        with pytest.raises((OSError, EOFError, dns.exception.DNSException)):
            await dns.asyncquery.tcp(
                dns.message.make_query("example.org", "A"), "127.0.0.1", port=port, timeout=2
            )
        assert (await dot(port, client_context(certs))).rcode() == dns.rcode.NOERROR


async def test_mutual_tls_require_and_verify(certs: Certs) -> None:
    """require_and_verify: a client with a certificate from CA is answered; without one, or with
    one from another CA, it is refused."""
    port = free_port()
    options = " {\n        client_auth require_and_verify\n    }"
    async with running(corefile(port, certs, options)):
        trusted = client_context(certs, certs.client_cert, certs.client_key)
        assert (await dot(port, trusted)).rcode() == dns.rcode.NOERROR
        for ctx in (
            client_context(certs),
            client_context(certs, certs.stranger_cert, certs.stranger_key),
        ):
            with pytest.raises((OSError, EOFError, dns.exception.DNSException)):
                await dot(port, ctx)
        out = await kdig(port, certs)
        assert "status: NOERROR" not in out, out
        out = await kdig(
            port, certs, f"+tls-certfile={certs.client_cert}", f"+tls-keyfile={certs.client_key}"
        )
        assert "status: NOERROR" in out, out


async def test_verify_if_given_takes_clients_without_a_certificate(certs: Certs) -> None:
    """verify_if_given: no certificate is fine, a certificate from another CA is not."""
    port = free_port()
    options = " {\n        client_auth verify_if_given\n    }"
    async with running(corefile(port, certs, options)):
        assert (await dot(port, client_context(certs))).rcode() == dns.rcode.NOERROR
        with pytest.raises((OSError, EOFError, dns.exception.DNSException)):
            await dot(port, client_context(certs, certs.stranger_cert, certs.stranger_key))


async def test_missing_certificate_file_stops_the_start(certs: Certs, tmp_path: Path) -> None:
    """The files are read at start: a missing one is a start error naming it."""
    port = free_port()
    text = f"tls://.:{port} {{\n    tls {tmp_path}/missing.pem {certs.server_key}\n    whoami\n}}\n"
    with pytest.raises(StartError, match=r"plugin/tls: cannot load certificate .*missing\.pem"):
        async with running(text):
            pass


@pytest.mark.parametrize("scheme", ["tls", "https"])
async def test_encrypted_block_without_tls_plugin_is_refused(scheme: str) -> None:
    """CoreDNS refuses DoH without a certificate; kdns refuses tls:// too, naming the key."""
    with pytest.raises(StartError, match=rf"Corefile:1:1: error: {scheme}:// needs a server cert"):
        async with running(f"{scheme}://.:{free_port()} {{\n    whoami\n}}\n"):
            pass


@pytest.mark.parametrize("scheme", ["grpc", "quic", "https3", "unix"])
async def test_unsupported_transports_are_refused_with_their_position(scheme: str) -> None:
    """grpc://, quic://, https3:// and unix:// stop `kdns serve` at the key's file:line:col."""
    text = f".:{free_port()} {{\n    whoami\n}}\n  {scheme}://.:{free_port()} {{\n    whoami\n}}\n"
    with pytest.raises(StartError, match=rf"Corefile:4:3: {scheme}:// is not supported by kdns"):
        async with running(text):
            pass


async def test_reload_applies_new_tls_settings_to_the_next_connection(
    certs: Certs, tmp_path: Path
) -> None:
    """The listener survives a reload; the next connection gets the new generation's context."""
    port = free_port()
    async with running(corefile(port, certs), folder=tmp_path) as server:
        anonymous = client_context(certs)
        assert (await dot(port, anonymous)).rcode() == dns.rcode.NOERROR
        options = " {\n        client_auth require_and_verify\n    }"
        (tmp_path / "Corefile").write_text(corefile(port, certs, options))
        assert await server.reload()
        with pytest.raises((OSError, EOFError, dns.exception.DNSException)):
            await dot(port, anonymous)
        trusted = client_context(certs, certs.client_cert, certs.client_key)
        assert (await dot(port, trusted)).rcode() == dns.rcode.NOERROR
