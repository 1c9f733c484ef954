"""loop over real sockets: two kdns blocks forwarding to each other are caught at start."""

from __future__ import annotations

import asyncio

import pytest

from kdns.plugins.loop import Loop
from kdns.plugins.loop import handler as loop_handler
from kdns.runtime.server import Server
from kdns.runtime.testing import free_port, running


def loop_of(server: Server) -> Loop:
    assert server.current is not None
    return next(h for h in server.current.handlers if isinstance(h, Loop))


async def test_blocks_forwarding_to_each_other_are_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[str] = []
    monkeypatch.setattr(loop_handler, "fatal", reported.append)
    a, b = free_port(), free_port()
    corefile = (
        f".:{a} {{\n    loop\n    forward . 127.0.0.1:{b}\n}}\n"
        f".:{b} {{\n    forward . 127.0.0.1:{a}\n}}\n"
    )
    async with running(corefile, drain=0.5) as server:
        for _ in range(300):
            if reported:
                break
            await asyncio.sleep(0.01)
        loop = loop_of(server)
    assert len(reported) == 1
    message = reported[0]
    assert message.startswith("Loop (127.0.0.1:")
    assert f' -> :{a}) detected for zone ".", see https://coredns.io/plugins/loop' in message
    assert f'Query: "HINFO {loop.qname}"' in message
    # the path: our own probe, then the query coming back twice through the other block
    assert message.split("Path: ")[1].count(" -> ") == 2


async def test_no_loop_the_plugin_stands_aside(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[str] = []
    monkeypatch.setattr(loop_handler, "fatal", reported.append)
    monkeypatch.setattr(loop_handler, "DISABLE_AFTER", 0.05)
    a, b = free_port(), free_port()
    corefile = (
        f"example.org:{a} {{\n    loop\n    forward . 127.0.0.1:{b}\n}}\n.:{b} {{\n    whoami\n}}\n"
    )
    async with running(corefile) as server:
        loop = loop_of(server)
        for _ in range(200):
            if loop.disabled:
                break
            await asyncio.sleep(0.01)
        assert loop.disabled
        assert loop.qname.endswith(".example.org.")
        assert loop.seen == 1  # its own probe, once
    assert reported == []
