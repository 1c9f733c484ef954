"""errors over real sockets: SERVFAIL for the client, a line (or a summary) in the log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import dns.asyncquery
import dns.message
import dns.rcode

from kdns.runtime.testing import free_port, query, running

Lines = Callable[[], list[str]]
NO_NEXT = "plugin/errors: no next plugin found"


async def ask(port: int, name: str, rdtype: str = "A", *, tcp: bool = False) -> int:
    return (await query(port, name, rdtype, tcp=tcp)).rcode()


def broken(port: int, errors: str = "errors") -> str:
    """A Corefile whose example.org block fails every query; other names get whoami."""
    return f"example.org:{port} {{\n{errors}\n}}\n.:{port} {{\n    errors\n    whoami\n}}\n"


async def test_each_error_is_a_line_and_the_client_gets_servfail(lines: Lines) -> None:
    port = free_port()
    async with running(broken(port)):
        assert await ask(port, "www.Example.ORG", "AAAA") == dns.rcode.SERVFAIL
        assert await ask(port, "example.org", "MX", tcp=True) == dns.rcode.SERVFAIL
        assert await ask(port, "example.com") == dns.rcode.NOERROR
    assert lines() == [
        f"[ERROR] plugin/errors: 2 www.example.org. AAAA: {NO_NEXT}",
        f"[ERROR] plugin/errors: 2 example.org. MX: {NO_NEXT}",
    ]


async def test_consolidated_errors_are_summarized_when_the_server_stops(lines: Lines) -> None:
    """A period still running at shutdown is summarized then, not lost."""
    port = free_port()
    errors = 'errors {\n    consolidate 1h "no next plugin" warning\n}'
    async with running(broken(port, errors)):
        for _ in range(3):
            assert await ask(port, "example.org") == dns.rcode.SERVFAIL
        assert lines() == []
    assert lines() == [
        "[WARNING] plugin/errors: 3 errors like 'no next plugin' occurred in last 1h0m0s"
    ]


async def test_summary_is_written_when_the_period_ends(lines: Lines) -> None:
    port = free_port()
    errors = 'errors {\n    consolidate 300ms "^plugin/errors: "\n}'
    async with running(broken(port, errors)):
        assert await ask(port, "example.org") == dns.rcode.SERVFAIL
        assert await ask(port, "example.org", "TXT") == dns.rcode.SERVFAIL
        for _ in range(300):
            if lines():
                break
            await asyncio.sleep(0.01)
        assert lines() == [
            "[ERROR] plugin/errors: 2 errors like '^plugin/errors: ' occurred in last 300ms"
        ]
    assert len(lines()) == 1  # nothing left to flush at stop


async def test_show_first_logs_the_first_error_at_the_rule_level(lines: Lines) -> None:
    port = free_port()
    errors = 'errors {\n    consolidate 1h "no next plugin" info show_first\n}'
    async with running(broken(port, errors)):
        assert await ask(port, "a.example.org") == dns.rcode.SERVFAIL
        assert lines() == [f"[INFO] plugin/errors: 2 a.example.org. A: {NO_NEXT}"]
        assert await ask(port, "b.example.org") == dns.rcode.SERVFAIL
        assert await ask(port, "c.example.org") == dns.rcode.SERVFAIL
        assert len(lines()) == 1
    assert lines()[1:] == [
        "[INFO] plugin/errors: 3 errors like 'no next plugin' occurred in last 1h0m0s"
    ]
