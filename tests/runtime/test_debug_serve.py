"""debug over real sockets: a crashing plugin answers SERVFAIL either way; with debug the failure
is logged as not recovered, with its traceback and the query in hex, and is not counted as a
recovered panic."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import dns.rcode

from kdns.plugins import default_registry
from kdns.plugins.base import Plugin, Request, ResponseWriter
from kdns.plugins.metrics import PANICS
from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask


class Crash(Plugin[object]):
    """Stands in for whoami and fails on every query."""

    name = "whoami"

    async def serve_dns(self, req: Request, w: ResponseWriter) -> int:
        raise RuntimeError("boom")


async def test_crash_with_and_without_debug(tmp_path: Path, log_output: io.StringIO) -> None:
    registry = default_registry()
    registry["whoami"] = dataclasses.replace(registry["whoami"], build=Crash)
    port = free_port()
    corefile = (
        f"a.example:{port} {{\n    debug\n    whoami\n}}\nb.example:{port} {{\n    whoami\n}}\n"
    )
    async with running(corefile, tmp_path, registry=registry):
        before = PANICS.get()
        debugged = await ask(port, "x.a.example", ident=0x1234)
        assert debugged.rcode() == dns.rcode.SERVFAIL
        assert PANICS.get() == before
        text = log_output.getvalue()
        assert "panic in plugin chain (debug: not recovered)" in text
        assert "RuntimeError: boom" in text
        assert "query=1234" in text  # the hex dump starts with the query ID
        assert "[DEBUG] plugin/debug: debug logging on" in text

        recovered = await ask(port, "x.b.example")
        assert recovered.rcode() == dns.rcode.SERVFAIL
        assert PANICS.get() == before + 1
        assert "recovered from panic in plugin chain" in log_output.getvalue()
