"""metadata over real sockets: values reach the log plugin's `{/LABEL}` placeholders, only for
names inside the metadata zones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kdns.runtime.testing import free_port, running
from kdns.runtime.testing import query as ask

Lines = Callable[[], list[str]]


async def test_log_prints_metadata_inside_its_zones(tmp_path: Path, lines: Lines) -> None:
    port = free_port()
    corefile = f"""\
.:{port} {{
    metadata example.org
    view everyone
    log . "{{name}} {{/view/name}}"
    whoami
}}
"""
    async with running(corefile, tmp_path):
        await ask(port, "www.example.org")
        await ask(port, "www.example.net")
    assert lines() == ["[INFO] www.example.org. everyone", "[INFO] www.example.net. -"]


async def test_no_metadata_without_the_plugin(tmp_path: Path, lines: Lines) -> None:
    port = free_port()
    corefile = (
        f'.:{port} {{\n    view everyone\n    log . "{{name}} {{/view/name}}"\n    whoami\n}}\n'
    )
    async with running(corefile, tmp_path):
        await ask(port, "www.example.org")
    assert lines() == ["[INFO] www.example.org. -"]
