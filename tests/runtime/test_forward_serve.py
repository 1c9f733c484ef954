"""forward over real sockets: kdns in front of dnsmasq (and of itself, and of DoT/DoH relays)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import getpass
import random
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from kdns.plugins.forward.metrics import CONN_CACHE_MISSES, HEALTHCHECK_FAILURES
from kdns.plugins.forward.testing import FakeUpstream, dead_port
from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask

DNSMASQ = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
pytestmark = pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed")

Start = Callable[..., int]


def _ready(host: str, port: int) -> bool:
    query = dns.message.make_query("ready.example.test", "A")
    try:
        dns.query.udp(query, host, port=port, timeout=0.1)
    except (dns.exception.Timeout, OSError):
        return False
    return True


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[Start]:
    """Start dnsmasq serving `hosts` ({name: ip}) under example.test; return its port."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(hosts: dict[str, str], *, port: int = 0, host: str = "127.0.0.1") -> int:
        port = port or free_port()
        hosts_file = tmp_path / f"hosts-{port}-{len(procs)}"
        hosts_file.write_text("".join(f"{ip} {name}\n" for name, ip in hosts.items()))
        assert DNSMASQ is not None
        proc = subprocess.Popen(
            [
                DNSMASQ,
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                f"--port={port}",
                f"--listen-address={host}",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                f"--addn-hosts={hosts_file}",
                "--local=/example.test/",
                f"--user={getpass.getuser()}",
                "--pid-file=",
                "--log-facility=-",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        deadline = time.monotonic() + 5
        while not _ready(host, port):
            assert proc.poll() is None, "dnsmasq exited"
            assert time.monotonic() < deadline, "dnsmasq did not answer"
        return port

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(5)


def ip_of(reply: dns.message.Message) -> str:
    return str(reply.answer[0][0].address)


async def test_forward_to_dnsmasq_over_udp_and_tcp(dnsmasq: Start) -> None:
    up = dnsmasq({"who.example.test": "10.9.9.1"})
    port = free_port()
    misses = ("forward", f"127.0.0.1:{up}", "tcp")
    before = CONN_CACHE_MISSES.get(misses)  # an earlier test may have had this port
    async with running(f".:{port} {{\n    forward . 127.0.0.1:{up}\n}}\n"):
        for tcp in (False, True):
            reply = await ask(port, "Who.Example.Test", tcp=tcp)
            assert (reply.rcode(), ip_of(reply)) == (dns.rcode.NOERROR, "10.9.9.1")
            assert str(reply.question[0].name) == "Who.Example.Test."
            reply = await ask(port, "nothere.example.test", tcp=tcp)
            assert reply.rcode() == dns.rcode.NXDOMAIN
        assert CONN_CACHE_MISSES.get(misses) - before == 1
        # CH class is not refused when forward is in the block: dnsmasq answers version.bind
        reply = await ask(port, "version.bind", "TXT", rdclass="CH")
        assert reply.rcode() == dns.rcode.NOERROR
        assert "dnsmasq" in str(reply.answer[0][0])


async def test_policies_spread_queries_over_two_dnsmasq(dnsmasq: Start) -> None:
    a = dnsmasq({"who.example.test": "10.9.9.1"})
    b = dnsmasq({"who.example.test": "10.9.9.2"})
    ports = {p: free_port() for p in ("sequential", "round_robin", "random")}
    corefile = "".join(
        f".:{port} {{\n    forward . 127.0.0.1:{a} 127.0.0.1:{b} {{\n"
        f"        policy {policy}\n    }}\n}}\n"
        for policy, port in ports.items()
    )
    async with running(corefile):
        seen = {
            policy: [ip_of(await ask(port, "who.example.test")) for _ in range(30)]
            for policy, port in ports.items()
        }
    assert set(seen["sequential"]) == {"10.9.9.1"}
    assert seen["round_robin"][:4] == ["10.9.9.2", "10.9.9.1", "10.9.9.2", "10.9.9.1"]
    assert set(seen["random"]) == {"10.9.9.1", "10.9.9.2"}


async def test_except_names_go_to_the_next_plugin(dnsmasq: Start) -> None:
    up = dnsmasq({"who.example.test": "10.9.9.1", "who.skip.test": "10.9.9.9"})
    port = free_port()
    corefile = (
        f".:{port} {{\n    forward . 127.0.0.1:{up} {{\n        except skip.test\n    }}\n"
        "    whoami\n}\n"
    )
    async with running(corefile):
        assert ip_of(await ask(port, "who.example.test")) == "10.9.9.1"
        reply = await ask(port, "who.skip.test")
        assert reply.answer == []  # whoami answered: the client's address in additional
        assert reply.additional[0][0].address == "127.0.0.1"


async def test_transport_to_a_kdns_upstream() -> None:
    """A second kdns block running whoami shows which transport the forwarder used."""
    who, plain, force, prefer = (free_port() for _ in range(4))
    corefile = (
        f".:{who} {{\n    whoami\n}}\n"
        f".:{plain} {{\n    forward . 127.0.0.1:{who}\n}}\n"
        f".:{force} {{\n    forward . 127.0.0.1:{who} {{\n        force_tcp\n    }}\n}}\n"
        f".:{prefer} {{\n    forward . 127.0.0.1:{who} {{\n        prefer_udp\n    }}\n}}\n"
    )

    async def transport(port: int, tcp: bool) -> str:
        reply = await ask(port, "who.test", tcp=tcp)
        srv = next(r for r in reply.additional if r.rdtype == dns.rdatatype.SRV)
        return str(srv.name).split(".")[0]

    async with running(corefile):
        assert await transport(plain, False) == "_udp"
        assert await transport(plain, True) == "_tcp"
        assert await transport(force, False) == "_tcp"
        assert await transport(prefer, True) == "_udp"
        # the cached connection is reused: whoami sees the same source port twice
        first = await ask(plain, "who.test")
        second = await ask(plain, "who.test")
        ports = [
            next(r for r in m.additional if r.rdtype == dns.rdatatype.SRV)[0].port
            for m in (first, second)
        ]
        assert ports[0] == ports[1]


async def test_dead_upstream_is_taken_out_by_health_checks_and_back(dnsmasq: Start) -> None:
    dead = dead_port()
    good = dnsmasq({"who.example.test": "10.9.9.2"})
    port = free_port()
    corefile = (
        f".:{port} {{\n    forward . 127.0.0.1:{dead} 127.0.0.1:{good} {{\n"
        "        policy sequential\n        max_fails 1\n        health_check 50ms\n    }\n}\n"
    )
    failures = ("forward", f"127.0.0.1:{dead}")
    async with running(corefile):
        before = HEALTHCHECK_FAILURES.get(failures)
        assert ip_of(await ask(port, "who.example.test")) == "10.9.9.2"
        for _ in range(100):
            if HEALTHCHECK_FAILURES.get(failures) >= before + 2:  # max_fails 1: now down
                break
            await asyncio.sleep(0.02)
        assert HEALTHCHECK_FAILURES.get(failures) >= before + 2
        assert ip_of(await ask(port, "who.example.test")) == "10.9.9.2"
        dnsmasq({"who.example.test": "10.9.9.1"}, port=dead)  # the dead one comes back
        for _ in range(100):
            if ip_of(await ask(port, "who.example.test")) == "10.9.9.1":
                break
            await asyncio.sleep(0.02)
        assert ip_of(await ask(port, "who.example.test")) == "10.9.9.1"


async def test_only_dead_upstreams_is_servfail() -> None:
    port = free_port()
    corefile = (
        f".:{port} {{\n    forward . 127.0.0.1:{dead_port()} {{\n"
        "        max_connect_attempts 2\n    }\n}\n"
    )
    async with running(corefile):
        assert (await ask(port, "a.test")).rcode() == dns.rcode.SERVFAIL


async def test_max_concurrent_refuses_queries_beyond_the_limit() -> None:
    async with FakeUpstream(delay=0.3) as slow:
        port = free_port()
        corefile = (
            f".:{port} {{\n    forward . {slow.addr} {{\n        max_concurrent 1\n    }}\n}}\n"
        )
        async with running(corefile):
            replies = await asyncio.gather(*(ask(port, f"q{i}.test") for i in range(3)))
        rcodes = sorted(dns.rcode.to_text(r.rcode()) for r in replies)
        assert rcodes == ["NOERROR", "REFUSED", "REFUSED"]


async def test_next_nxdomain_chains_to_the_second_forward(dnsmasq: Start) -> None:
    a = dnsmasq({"one.example.test": "10.9.9.1"})
    b = dnsmasq({"two.example.test": "10.9.9.2"})
    port = free_port()
    corefile = (
        f".:{port} {{\n    forward . 127.0.0.1:{a} {{\n        next NXDOMAIN\n    }}\n"
        f"    forward . 127.0.0.1:{b}\n}}\n"
    )
    async with running(corefile):
        assert ip_of(await ask(port, "one.example.test")) == "10.9.9.1"
        assert ip_of(await ask(port, "two.example.test")) == "10.9.9.2"
        assert (await ask(port, "three.example.test")).rcode() == dns.rcode.NXDOMAIN


def _can_bind_53(host: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 53))
    except OSError:
        return False
    return True


async def test_resolv_conf_file_upstreams(dnsmasq: Start, tmp_path: Path) -> None:
    """nameserver lines are read at start; they are asked on port 53, as CoreDNS does."""
    host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    if not _can_bind_53(host):
        pytest.skip("port 53 cannot be bound here")
    dnsmasq({"who.example.test": "10.9.9.3"}, port=53, host=host)
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"search example.test\noptions ndots:5\nnameserver {host}\n")
    port = free_port()
    async with running(f".:{port} {{\n    forward . {conf}\n}}\n"):
        assert ip_of(await ask(port, "who.example.test")) == "10.9.9.3"


# -- DNS-over-TLS and DNS-over-HTTPS, through relays in front of dnsmasq ----------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for dot.test and 127.0.0.1, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=dot.test", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=DNS:dot.test,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def _relay(wire: bytes, upstream: int) -> bytes:
    reply = await dns.asyncquery.udp(
        dns.message.from_wire(wire), "127.0.0.1", port=upstream, timeout=2
    )
    return reply.to_wire()


@contextlib.asynccontextmanager
async def tls_server(
    cert: tuple[Path, Path], serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object]
) -> AsyncIterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)  # type: ignore[arg-type]
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def test_dns_over_tls_upstream(dnsmasq: Start, certificate: tuple[Path, Path]) -> None:
    up = dnsmasq({"who.example.test": "10.9.9.4"})

    async def dot(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                wire = await _relay(await reader.readexactly(size), up)
                writer.write(struct.pack("!H", len(wire)) + wire)
        writer.close()

    async with tls_server(certificate, dot) as tls_port:
        port = free_port()
        corefile = (
            f".:{port} {{\n    forward . tls://127.0.0.1:{tls_port} {{\n"
            f"        tls {certificate[0]}\n        tls_servername dot.test\n    }}\n}}\n"
        )
        async with running(corefile):
            for _ in range(2):
                assert ip_of(await ask(port, "who.example.test")) == "10.9.9.4"
        miss = ("forward", f"127.0.0.1:{tls_port}", "tcp-tls")
        assert CONN_CACHE_MISSES.get(miss) == 1  # the TLS connection was reused


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_dns_over_https_upstream(
    dnsmasq: Start, certificate: tuple[Path, Path], method: str
) -> None:
    up = dnsmasq({"who.example.test": "10.9.9.5"})
    requests: list[str] = []

    async def doh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while line := await reader.readline():
                requests.append(line.decode().split(" ")[0])
                headers = {}
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                if line.startswith(b"GET"):
                    param = line.split(b" ")[1].split(b"dns=")[1].decode()
                    wire = base64.urlsafe_b64decode(param + "=" * (-len(param) % 4))
                else:
                    wire = await reader.readexactly(int(headers["content-length"]))
                body = await _relay(wire, up)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/dns-message\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
        writer.close()

    async with tls_server(certificate, doh) as https_port:
        port = free_port()
        corefile = (
            f".:{port} {{\n    forward . https://127.0.0.1:{https_port} {{\n"
            f"        tls {certificate[0]}\n        tls_servername dot.test\n"
            f"        doh_method {method}\n    }}\n}}\n"
        )
        async with running(corefile):
            for _ in range(2):
                assert ip_of(await ask(port, "who.example.test")) == "10.9.9.5"
    assert requests == [method, method]
