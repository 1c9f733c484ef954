"""SIGTERM with a health lameduck: answers continue, ready says so, then a clean exit."""

from __future__ import annotations

import asyncio
import signal
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.testing import free_port, start_kdns


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


async def test_sigterm_under_load_loses_nothing_during_lameduck(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Queries sent during the 2s lameduck are all answered; exit status is 0."""
    port, health, ready = free_port(), free_port(), free_port()
    conf = tmp_path / "Corefile"
    conf.write_text(
        f".:{port} {{\n    whoami\n    health 127.0.0.1:{health} {{\n        lameduck 2s\n    }}\n"
        f"    ready 127.0.0.1:{ready}\n}}\n"
    )
    proc = await start_kdns(
        "-conf",
        str(conf),
        "-quiet",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 15
    while True:
        try:
            q = dns.message.make_query("up.example", "A")
            await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=0.2)
            break
        except dns.exception.Timeout:
            assert time.monotonic() < deadline
    assert (await loop.run_in_executor(None, http_get, ready, "/ready"))[0] == 200

    answered = lost = 0

    async def one(i: int) -> None:
        nonlocal answered, lost
        try:
            q = dns.message.make_query(f"q{i}.example", "A")
            r = await dns.asyncquery.udp(q, "127.0.0.1", port=port, timeout=2)
            assert r.rcode() == dns.rcode.NOERROR
            answered += 1
        except dns.exception.Timeout:
            lost += 1

    tasks = []
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    # within the lameduck: keep querying for 1.5s at ~500 qps, and check the endpoints
    i = 0
    while time.monotonic() - start < 1.5:
        tasks.append(asyncio.create_task(one(i)))
        i += 1
        await asyncio.sleep(0.002)
    status_ready = await loop.run_in_executor(None, http_get, ready, "/ready")
    status_health = await loop.run_in_executor(None, http_get, health, "/health")
    await asyncio.gather(*tasks)
    assert lost == 0
    assert answered == i
    assert i > 300
    assert status_health[0] == 200
    assert status_ready == (503, "Shutting down")
    assert await asyncio.wait_for(proc.wait(), 20) == 0


async def wait_answering(port: int, name: str, within: float = 15.0) -> None:
    """Wait until a UDP query for `name` gets any reply."""
    deadline = time.monotonic() + within
    while True:
        try:
            await dns.asyncquery.udp(
                dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=0.2
            )
            return
        except dns.exception.Timeout:
            assert time.monotonic() < deadline, "kdns did not start"


async def tcp_ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> int:
    """Ask one question on an open TCP connection; return the rcode."""
    wire = dns.message.make_query(name, "A").to_wire()
    writer.write(struct.pack("!H", len(wire)) + wire)
    (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 2))
    return dns.message.from_wire(await reader.readexactly(length)).rcode()


async def test_sigterm_lameduck_serves_open_and_new_tcp_connections(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """TCP clients connected before SIGTERM keep getting answers on their connection during
    the lameduck, new connections are still accepted, and the exit is clean."""
    port, health = free_port(), free_port()
    conf = tmp_path / "Corefile"
    conf.write_text(
        f".:{port} {{\n    whoami\n    health 127.0.0.1:{health} {{\n        lameduck 2s\n"
        "    }\n}\n"
    )
    proc = await start_kdns(
        "-conf",
        str(conf),
        "-quiet",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await wait_answering(port, "up.example")
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    for i, (r, w) in enumerate(held):
        assert await tcp_ask(r, w, f"before{i}.example") == dns.rcode.NOERROR
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    asked = 0
    while time.monotonic() - start < 1.5:  # inside the 2s lameduck
        for i, (r, w) in enumerate(held):
            assert await tcp_ask(r, w, f"during{i}.example") == dns.rcode.NOERROR
            asked += 1
        r, w = await asyncio.open_connection("127.0.0.1", port)
        assert await tcp_ask(r, w, "fresh.example") == dns.rcode.NOERROR
        w.close()
        await asyncio.sleep(0.05)
    assert asked >= 100
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    for _, w in held:
        w.close()


CLUSTER = Path(__file__).parent / "cluster" / "cluster.yaml"
KNOWN = [
    ("svc1.testns.svc.cluster.local.", "A"),
    ("hdls1.testns.svc.cluster.local.", "A"),
    ("_http._tcp.svc1.testns.svc.cluster.local.", "SRV"),
    ("web.prod.svc.cluster.local.", "A"),
    ("kubernetes.default.svc.cluster.local.", "A"),
]


async def test_sigkill_then_restart_is_ready_only_after_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """kill -9, then a restart while the API server is down: /ready is 503 and known names are
    SERVFAIL until the API is back and synced; from the first /ready 200 on, every known name
    answers (checked right after each 200)."""
    api = ApiServer([CLUSTER], port=free_port(), poll_interval=0)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    port, ready = free_port(), free_port()
    conf = tmp_path / "Corefile"
    conf.write_text(
        f".:{port} {{\n    ready 127.0.0.1:{ready}\n    kubernetes cluster.local {{\n"
        f"        kubeconfig {kubeconfig}\n        startup_timeout 200ms\n    }}\n}}\n"
        f"probe:{port} {{\n    whoami\n}}\n"
    )
    args = ("-conf", str(conf), "-quiet")
    quiet = {"stdout": asyncio.subprocess.DEVNULL, "stderr": asyncio.subprocess.DEVNULL}
    loop = asyncio.get_running_loop()

    async def status() -> int:
        return (await loop.run_in_executor(None, http_get, ready, "/ready"))[0]

    async def rcodes() -> list[int]:
        replies = [
            await dns.asyncquery.udp(
                dns.message.make_query(n, t), "127.0.0.1", port=port, timeout=2
            )
            for n, t in KNOWN
        ]
        return [r.rcode() if r.answer or r.rcode() else -1 for r in replies]  # -1: empty

    async with api:
        proc = await start_kdns(*args, **quiet)
        await wait_answering(port, "up.probe")
        deadline = time.monotonic() + 15
        while await status() != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert await rcodes() == [dns.rcode.NOERROR] * len(KNOWN)
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL
    # the API server is down now; kdns comes back before it does
    proc = await start_kdns(*args, **quiet)
    try:
        await wait_answering(port, "up.probe")
        for _ in range(5):
            assert await status() == 503
            assert await rcodes() == [dns.rcode.SERVFAIL] * len(KNOWN)
            await asyncio.sleep(0.1)
        async with api:
            deadline = time.monotonic() + 15
            readies = 0
            while readies < 20:
                assert time.monotonic() < deadline, "never ready"
                if await status() == 200:
                    readies += 1
                    assert await rcodes() == [dns.rcode.NOERROR] * len(KNOWN)
                await asyncio.sleep(0.01)
    finally:
        proc.kill()
        await proc.wait()
