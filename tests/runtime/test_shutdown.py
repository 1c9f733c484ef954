"""SIGTERM with a health lameduck: answers continue, ready says so, then a clean exit."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import urllib.error
import urllib.request

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode

from kdns.runtime.testing import free_port


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
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kdns.runtime",
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
