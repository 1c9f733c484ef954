"""Live reload of a ConfigMap-mounted Corefile under load: nothing lost, broken configs refused."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import dns.asyncquery
import dns.message
import dns.rcode
import pytest

from kdns.runtime.configmap import write_configmap
from kdns.runtime.testing import UdpLoad, free_port, start_kdns

from .config_faults import COREFILE

#: config_faults.COREFILE with health and metrics, to watch them through the reloads.
VALID = COREFILE.replace(
    "    reload 2s\n",
    "    reload 2s\n    health 127.0.0.1:{health}\n    prometheus 127.0.0.1:{metrics}\n",
)
BROKEN = ".:{port} {{\n    whoami\n    cache 0\n}}\n"


class Ports(NamedTuple):
    dns: int
    health: int
    metrics: int

    def valid(self, version: int) -> str:
        return VALID.format(
            port=self.dns, health=self.health, metrics=self.metrics, version=version
        )


async def rcode_of(port: int, name: str, timeout: float = 1.0) -> int:
    query = dns.message.make_query(name, "A")
    return (await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=timeout)).rcode()


@pytest.fixture
async def kdns_process(
    tmp_path: Path,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Ports, Path]]:
    """A real `kdns -conf` process on a ConfigMap-style folder, stopped after the test."""
    ports = Ports(free_port(), free_port(), free_port())
    port = ports.dns
    folder = tmp_path / "coredns"
    write_configmap(folder, {"Corefile": ports.valid(0)})
    proc = await start_kdns(
        "-conf",
        str(folder / "Corefile"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            await rcode_of(port, "up.example", timeout=0.2)
            break
        except dns.exception.Timeout:
            if time.monotonic() > deadline or proc.returncode is not None:
                raise
    yield proc, ports, folder
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)


async def address_of(port: int, name: str) -> str | None:
    query = dns.message.make_query(name, "A")
    reply = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=1.0)
    return reply.answer[0][0].address if reply.answer else None


async def wait_for_address(port: int, name: str, want: str, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if await address_of(port, name) == want:
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} did not become {want} within {within}s")


async def wait_for_rcode(port: int, name: str, want: int, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        try:
            if await rcode_of(port, name, timeout=0.3) == want:
                return time.monotonic() - start
        except dns.exception.Timeout:
            pass  # the port may not be open yet
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} did not turn {dns.rcode.to_text(want)} within {within}s")


def http_status(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as resp:
            return resp.status, resp.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


class EndpointWatch:
    """Polls /health and /metrics every 50 ms; remembers every failure."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.failures: list[str] = []
        self.polls = 0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            for port, path in ((self.ports.health, "/health"), (self.ports.metrics, "/metrics")):
                status, body = await loop.run_in_executor(None, http_status, port, path)
                self.polls += 1
                if status != 200:
                    self.failures.append(f"{path}: {status} {body[:80]}")
            await asyncio.sleep(0.05)


async def failed_reloads(metrics_port: int) -> float:
    loop = asyncio.get_running_loop()
    _, text = await loop.run_in_executor(None, http_status, metrics_port, "/metrics")
    return metric(text, "coredns_reload_failed_total")


def metric(text: str, name: str) -> float:
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
    return sum(values)


async def test_fifty_configmap_updates_under_load_lose_nothing(
    kdns_process: tuple[asyncio.subprocess.Process, Ports, Path],
) -> None:
    """Alternate valid and broken Corefiles 50 times at 2,000 qps: zero lost, zero SERVFAIL,
    health and metrics up throughout, every broken one counted as a failed reload."""
    proc, ports, folder = kdns_process
    port = ports.dns
    load = UdpLoad(port, 2000, "load#.example", lambda reply: True)  # rcodes counted below
    runner = asyncio.create_task(load.run())
    watch = EndpointWatch(ports)
    watcher = asyncio.create_task(watch.run())
    delays = []
    version = 0
    for step in range(50):
        if step % 2 == 0:
            version += 1
            write_configmap(folder, {"Corefile": ports.valid(version)})
            # the hosts answer changes
            delays.append(await wait_for_address(port, "changed.test", f"10.0.{version}.1", 10))
        else:
            failed = await failed_reloads(ports.metrics)
            write_configmap(folder, {"Corefile": BROKEN.format(port=port)})
            deadline = time.monotonic() + 10
            while await failed_reloads(ports.metrics) == failed:  # wait for the rejection
                assert time.monotonic() < deadline, "the broken Corefile was never rejected"
                await asyncio.sleep(0.02)
            # rejected: the running configuration still serves its zones
            assert await address_of(port, "changed.test") == f"10.0.{version}.1"
            assert await rcode_of(port, "still.example") == dns.rcode.NOERROR
    load.stop.set()
    watch.stop.set()
    await runner
    await watcher
    assert proc.returncode is None
    assert watch.failures == []
    assert watch.polls > 50
    _, text = http_status(ports.metrics, "/metrics")
    assert re.search(r'coredns_reload_version_info\{hash="sha512",value="[0-9a-f]{128}"\} 1', text)
    sent = sum(load.sent.values())
    assert sum(load.lost.values()) == 0
    assert load.rcodes.get(dns.rcode.SERVFAIL, 0) == 0
    assert load.rcodes.get(dns.rcode.NOERROR, 0) == sent
    assert sent >= 2000  # the load really ran
    assert max(delays) < 5.0, delays  # generous: bench/ measures the real figure


async def test_reload_changes_listen_ports(
    kdns_process: tuple[asyncio.subprocess.Process, Ports, Path],
) -> None:
    """A reload that adds a port opens it; one that removes it closes it; the rest keep serving."""
    _, ports, folder = kdns_process
    port = ports.dns
    extra = free_port()
    two = ports.valid(1) + f".:{extra} {{\n    whoami\n}}\n"
    write_configmap(folder, {"Corefile": two})
    await wait_for_rcode(extra, "a.example", dns.rcode.NOERROR, 10)
    write_configmap(folder, {"Corefile": ports.valid(2)})
    await wait_for_address(port, "changed.test", "10.0.2.1", 10)
    with pytest.raises(dns.exception.Timeout):
        await rcode_of(extra, "a.example", timeout=0.5)
    assert await rcode_of(port, "a.example") == dns.rcode.NOERROR


async def test_sighup_reloads_without_reload_directive(tmp_path: Path) -> None:
    """SIGHUP and SIGUSR1 reload too, as CoreDNS does on SIGUSR1."""
    port = free_port()
    conf = tmp_path / "Corefile"
    conf.write_text(f".:{port} {{\n    whoami\n}}\n")
    proc = await start_kdns(
        "-conf",
        str(conf),
        "-quiet",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for_rcode(port, "a.test", dns.rcode.NOERROR, 15)
        conf.write_text(f".:{port} {{\n    whoami\n}}\ntest:{port} {{\n}}\n")
        await asyncio.sleep(0.3)
        assert await rcode_of(port, "a.test") == dns.rcode.NOERROR  # no reload directive
        os.kill(proc.pid, signal.SIGHUP)
        await wait_for_rcode(port, "a.test", dns.rcode.REFUSED, 5)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
