"""A crashing plugin costs one SERVFAIL and a panic count; TCP is bounded by time and count."""

from __future__ import annotations

import asyncio
import dataclasses
import struct

import dns.asyncquery
import dns.message
import dns.rcode

from kdns.plugins import default_registry
from kdns.plugins.base import Plugin, Request, ResponseWriter
from kdns.plugins.metrics import PANICS
from kdns.plugins.whoami import WhoamiConfig
from kdns.runtime import listeners
from kdns.runtime.testing import free_port, running


class Crashing(Plugin[WhoamiConfig]):
    """A whoami that crashes on names starting with `boom`."""

    name = "whoami"

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        if req.qname.startswith("boom"):
            raise ZeroDivisionError("a bug")
        reply = req.reply()
        w.write(reply)
        return 0


async def test_plugin_crash_is_servfail_and_counted_and_server_goes_on() -> None:
    """An exception in a handler: SERVFAIL for that query, coredns_panics_total + 1."""
    registry = default_registry()
    registry["whoami"] = dataclasses.replace(registry["whoami"], build=Crashing)
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n", registry=registry):
        before = PANICS.get()
        q = dns.message.make_query("boom.example", "A")
        reply = await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=2)
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert PANICS.get() == before + 1
        q = dns.message.make_query("fine.example", "A")
        reply = await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=2)
        assert reply.rcode() == dns.rcode.NOERROR


async def test_idle_tcp_connections_are_closed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A TCP client that sends nothing is disconnected after the idle timeout."""
    monkeypatch.setattr(listeners, "TCP_IDLE_TIMEOUT", 0.3)
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server
        writer.close()


async def test_tcp_connection_cap_keeps_udp_answering(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Past the cap new TCP connections are closed at once; UDP and open ones still answer."""
    monkeypatch.setattr(listeners, "TCP_MAX_CONNECTIONS", 3)
    port = free_port()
    async with running(f".:{port} {{\n    whoami\n}}\n"):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 3) == b""
        writer.close()
        q = dns.message.make_query("udp.example", "A")
        reply = await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=2)
        assert reply.rcode() == dns.rcode.NOERROR
        r, w = held[0]
        wire = dns.message.make_query("tcp.example", "A").to_wire()
        w.write(struct.pack("!H", len(wire)) + wire)
        (length,) = struct.unpack("!H", await asyncio.wait_for(r.readexactly(2), 3))
        assert dns.message.from_wire(await r.readexactly(length)).rcode() == dns.rcode.NOERROR
        for _, w in held:
            w.close()
