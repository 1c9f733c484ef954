"""`kdns serve` as a program: CoreDNS's flags, the built-in default, JSON logs, bind."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import pytest

from kdns.runtime.cli import main
from kdns.runtime.testing import free_port, running, start_kdns


async def start(*args: str, cwd: Path | None = None) -> asyncio.subprocess.Process:
    return await start_kdns(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )


async def answers(port: int, host: str = "127.0.0.1", within: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        try:
            q = dns.message.make_query("probe.example", "A")
            await dns.asyncquery.udp(q, host, port=port, timeout=0.3)
            return True
        except (dns.exception.Timeout, OSError):
            await asyncio.sleep(0.05)
    return False


async def stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, out
    return out.decode()


async def test_no_corefile_serves_the_builtin_default_on_dns_port(tmp_path: Path) -> None:
    """No -conf and no ./Corefile: whoami and log on .:PORT, with CoreDNS's startup lines."""
    port = free_port()
    proc = await start("-dns.port", str(port), cwd=tmp_path)
    assert await answers(port)
    q = dns.message.make_query("who.example", "A")
    reply = await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=2)
    assert reply.additional  # whoami's address and port
    out = await stop(proc)
    lines = out.splitlines()
    assert lines[0] == f".:{port}"
    assert lines[1].startswith("kdns-")
    assert lines[2].startswith("linux/")
    assert any('"A IN who.example. udp' in line for line in lines)  # the log plugin


async def test_pidfile_and_json_logs(tmp_path: Path) -> None:
    """-pidfile writes the PID (removed at exit); --log-format json logs one object a line."""
    port = free_port()
    conf = tmp_path / "Corefile"
    conf.write_text(f".:{port} {{\n    log\n    whoami\n}}\n")
    pidfile = tmp_path / "kdns.pid"
    proc = await start(
        "-conf", str(conf), "-pidfile", str(pidfile), "-quiet", "--log-format", "json"
    )
    assert await answers(port)
    assert int(pidfile.read_text()) == proc.pid
    out = await stop(proc)
    assert not pidfile.exists()
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(r.get("logger") == "plugin/log" and "probe.example." in r["event"] for r in records)
    assert not any(line.startswith(f".:{port}") for line in out.splitlines())  # -quiet


async def test_bad_corefile_exits_1_with_position(tmp_path: Path) -> None:
    """A Corefile that does not load: exit 1 and FILE:LINE:COL on stderr/stdout."""
    conf = tmp_path / "Corefile"
    conf.write_text(".:1053 {\n    cache 0\n}\n")
    proc = await start("-conf", str(conf))
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert f"{conf}:2:11: error: plugin/cache: cache TTL can not be zero" in out.decode()


async def test_unservable_plugin_refuses_to_start(tmp_path: Path) -> None:
    """A CoreDNS plugin kdns does not serve: kdns serve says so and exits 1."""
    conf = tmp_path / "Corefile"
    conf.write_text(".:1053 {\n    dnstap /tmp/x.sock\n    whoami\n}\n")
    proc = await start("-conf", str(conf))
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert "plugin/dnstap: kdns does not serve this CoreDNS plugin" in out.decode()


def test_version_and_plugins_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """-version and -plugins print and exit 0, as in CoreDNS."""
    assert main(["-version"]) == 0
    assert capsys.readouterr().out.startswith("kdns-")
    assert main(["-plugins"]) == 0
    out = capsys.readouterr().out
    assert "  dns.forward\n" in out
    assert "  dns.cache\n" in out


async def test_bind_limits_the_listen_addresses() -> None:
    """`bind 127.0.0.1` answers there and not on ::1; `bind lo` answers on both."""
    port = free_port()
    async with running(f".:{port} {{\n    bind 127.0.0.1\n    whoami\n}}\n"):
        assert await answers(port, "127.0.0.1", 3)
        assert not await answers(port, "::1", 0.5)
    port = free_port()
    async with running(f".:{port} {{\n    bind lo\n    whoami\n}}\n"):
        assert await answers(port, "127.0.0.1", 3)
        assert await answers(port, "::1", 3)
