"""`kdns serve --workers 2` over real sockets: both workers answer on one port, the API server
sees one set of watches, a reload reaches every worker or none, a killed worker comes back,
and SIGTERM drains every worker and exits 0.

Which worker answered is told by the supervisor's `kdns_worker_requests_total{worker}`: each
query goes out from a fresh source port, so the kernel's SO_REUSEPORT hash spreads a batch
over both workers (40 queries all landing on one has odds of 1 in 2^39).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
from prometheus_client.parser import text_string_to_metric_families

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.testing import free_port, query, start_kdns

CLUSTER = Path(__file__).parent / "cluster" / "cluster.yaml"
SERVICE_CIDRS = ("10.96.0.0/12", "fd00:10:96::/112")
BATCH = 40


@dataclass
class Fleet:
    """A `kdns --workers 2` process and where it listens."""

    proc: asyncio.subprocess.Process
    port: int
    metrics: int
    ready: int
    health: int
    log: Path


def corefile(port: int, ports: tuple[int, int, int], body: str) -> str:
    metrics, ready, health = ports
    return (
        f".:{port} {{\n{body}    prometheus 127.0.0.1:{metrics}\n    ready 127.0.0.1:{ready}\n"
        f"    health 127.0.0.1:{health} {{\n        lameduck 1s\n    }}\n}}\n"
    )


async def http_get(port: int, path: str) -> tuple[int, str]:
    """GET a side endpoint without blocking the loop (the API server runs on it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split(" ")[1]), body


async def until(check: object, within: float = 10.0) -> None:
    """Await the coroutine function `check` every 20 ms until it returns True."""
    async with asyncio.timeout(within):
        while True:
            with contextlib.suppress(OSError, IndexError, ValueError):
                if await check():  # type: ignore[operator]
                    return
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def launched(folder: Path, body: str) -> AsyncIterator[Fleet]:
    """Start `kdns -conf Corefile --workers 2` with `body` in its block; wait for /ready."""
    port, side = free_port(), (free_port(), free_port(), free_port())
    (folder / "Corefile").write_text(corefile(port, side, body))
    log = folder / "kdns.log"
    with log.open("wb") as out:
        proc = await start_kdns(
            "-conf",
            str(folder / "Corefile"),
            "--workers",
            "2",
            "-quiet",
            stdout=out,
            stderr=out,
            cwd=folder,
        )
    fleet = Fleet(proc, port, *side, log)
    try:
        await until(lambda: ready(fleet), 15.0)
        yield fleet
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def ready(fleet: Fleet) -> bool:
    return (await http_get(fleet.ready, "/ready"))[0] == 200


async def metrics(fleet: Fleet) -> dict[str, float]:
    """The merged /metrics: each family summed over its series, and the per-worker counts."""
    text = (await http_get(fleet.metrics, "/metrics"))[1]
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.name
            if name == "kdns_worker_requests_total":
                name += f":{sample.labels['worker']}"
            out[name] = out.get(name, 0.0) + sample.value
    return out


def by_worker(seen: dict[str, float]) -> tuple[float, float]:
    return (
        seen.get("kdns_worker_requests_total:0", 0.0),
        seen.get("kdns_worker_requests_total:1", 0.0),
    )


async def batch(fleet: Fleet, name: str) -> tuple[list[dns.message.Message | None], bool]:
    """Ask `name` BATCH times, each from a new source port; return the replies (None: no
    answer) and whether both workers answered some of them."""
    before = by_worker(await metrics(fleet))
    replies: list[dns.message.Message | None] = []
    for _ in range(BATCH):
        try:
            replies.append(await query(fleet.port, name, timeout=1.0))
        except dns.exception.Timeout:
            replies.append(None)
    after = by_worker(await metrics(fleet))
    return replies, after[0] > before[0] and after[1] > before[1]


def addresses(replies: list[dns.message.Message | None], ttl: bool = False) -> set[str]:
    """The distinct answers of a batch: an address (and TTL), an rcode name, or 'no answer'."""
    seen = set()
    for r in replies:
        if r is None:
            seen.add("no answer")
        elif r.rcode() != dns.rcode.NOERROR or not r.answer:
            seen.add(dns.rcode.to_text(r.rcode()))
        else:
            for rrset in r.answer:
                seen.update(rd.to_text() + (f" {rrset.ttl}" if ttl else "") for rd in rrset)
    return seen


async def every_worker_answers(fleet: Fleet, name: str, *expected: str, ttl: bool = False) -> None:
    """Ask in batches until one batch gets exactly `expected` from both workers."""

    async def check() -> bool:
        replies, both = await batch(fleet, name)
        return both and addresses(replies, ttl) == set(expected)

    await until(check)


def worker_pids(log: Path) -> dict[int, int]:
    """The latest pid of each worker slot, from the supervisor's log."""
    pids: dict[int, int] = {}
    for slot, pid in re.findall(r"worker (\d+) started, pid (\d+)", log.read_text()):
        pids[int(slot)] = int(pid)
    return pids


async def reloaded(fleet: Fleet, count: int) -> None:
    """SIGHUP the supervisor and wait for its `count`th completed reload."""
    fleet.proc.send_signal(signal.SIGHUP)

    async def done() -> bool:
        return fleet.log.read_text().count("Reloading complete") >= count

    await until(done)


TEMPLATE = '    template IN A example {{\n        answer "{{{{ .Name }}}} 60 IN A {ip}"\n    }}\n'


async def test_both_workers_answer_and_metrics_add_up(tmp_path: Path) -> None:
    """UDP and TCP queries are spread over both workers; /metrics counts every one once."""
    async with launched(tmp_path, TEMPLATE.format(ip="10.0.0.1")) as fleet:
        replies, both = await batch(fleet, "a.example")
        assert addresses(replies) == {"10.0.0.1"}
        assert both
        for _ in range(5):
            reply = await query(fleet.port, "b.example", tcp=True)
            assert reply.answer[0][0].address == "10.0.0.1"
        seen = await metrics(fleet)
        assert sum(by_worker(seen)) == BATCH + 5
        assert seen["coredns_dns_requests_total"] == BATCH + 5
        assert seen["coredns_dns_responses_total"] == BATCH + 5
        assert seen["coredns_dns_request_duration_seconds_count"] == BATCH + 5
        assert len(set(worker_pids(fleet.log).values())) == 2


async def test_one_set_of_watches_feeds_every_worker(tmp_path: Path) -> None:
    """The API server sees one list and one watch per kind; cluster names and an API change
    answer from both workers; a killed worker is restarted and fed from the same watch."""
    async with ApiServer([CLUSTER], poll_interval=0, service_cidrs=SERVICE_CIDRS) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        body = f"    kubernetes cluster.local {{\n        kubeconfig {kubeconfig}\n    }}\n"
        async with launched(tmp_path, body) as fleet:
            replies, both = await batch(fleet, "svc1.testns.svc.cluster.local")
            assert addresses(replies) == {"10.96.1.1"}
            assert both
            assert sum(api.watch_calls.values()) == 3  # namespaces, services, endpointslices
            assert sum(api.list_calls.values()) == 3

            api.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "late", "namespace": "testns"},
                    "spec": {"clusterIP": "10.96.3.1", "ports": [{"port": 80}]},
                }
            )
            await every_worker_answers(fleet, "late.testns.svc.cluster.local", "10.96.3.1")

            # A reload that leaves the kubernetes block alone keeps its watch (no new list);
            # one that changes it lists once more, for every worker.
            conf = tmp_path / "Corefile"
            conf.write_text(
                conf.read_text().replace("    prometheus", "    errors\n    prometheus")
            )
            await reloaded(fleet, 1)
            assert sum(api.list_calls.values()) == 3
            conf.write_text(
                conf.read_text().replace(" kubeconfig ", " ttl 7\n        kubeconfig ", 1)
            )
            await reloaded(fleet, 2)
            assert sum(api.list_calls.values()) == 6
            await every_worker_answers(
                fleet, "svc1.testns.svc.cluster.local", "10.96.1.1 7", ttl=True
            )

            pids = worker_pids(fleet.log)
            os.kill(pids[1], signal.SIGKILL)

            async def restarted() -> bool:
                fresh = worker_pids(fleet.log).get(1)
                return fresh is not None and fresh != pids[1]

            await until(restarted)
            await every_worker_answers(
                fleet, "late.testns.svc.cluster.local", "10.96.3.1 7", ttl=True
            )
            assert (await metrics(fleet))["kdns_worker_restarts_total"] == 1
            assert sum(api.list_calls.values()) == 6  # the restarted worker listed nothing


async def test_reload_reaches_every_worker_or_none(tmp_path: Path) -> None:
    """A Corefile edit changes the answers of both workers; a broken Corefile, and one that
    fails only when the workers start it, change none."""
    body = "    reload 2s\n" + TEMPLATE
    async with launched(tmp_path, body.format(ip="10.0.0.1")) as fleet:
        conf = tmp_path / "Corefile"
        conf.write_text(conf.read_text().replace("10.0.0.1", "10.0.0.2"))
        await every_worker_answers(fleet, "a.example", "10.0.0.2")

        good = conf.read_text()
        conf.write_text(good.replace("template IN A", "template IN A {", 1))  # unbalanced

        async def failed(count: float) -> bool:
            return (await metrics(fleet)).get("coredns_reload_failed_total", 0) >= count

        await until(lambda: failed(1))
        replies, both = await batch(fleet, "a.example")
        assert addresses(replies) == {"10.0.0.2"}
        assert both

        # Builds in the supervisor, fails in every worker's start (the zone file is garbage).
        (tmp_path / "db.bad").write_text("this is not a zone file\n")
        seen = (await metrics(fleet)).get("coredns_reload_failed_total", 0)
        conf.write_text(
            good.replace("10.0.0.2", "10.0.0.3").replace(
                "    reload 2s\n", "    reload 2s\n    file db.bad bad.test\n"
            )
        )
        await until(lambda: failed(seen + 1))
        replies, both = await batch(fleet, "a.example")
        assert addresses(replies) == {"10.0.0.2"}
        assert both
        assert "plugin/file" in fleet.log.read_text()


async def test_sigterm_drains_every_worker_and_exits_0(tmp_path: Path) -> None:
    """Queries sent during the lameduck are all answered, by both workers; ready says
    'Shutting down'; the supervisor exits 0 once both workers have."""
    async with launched(tmp_path, TEMPLATE.format(ip="10.0.0.1")) as fleet:
        before = by_worker(await metrics(fleet))
        fleet.proc.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        while loop.time() - start < 0.7:
            tasks.append(asyncio.create_task(query(fleet.port, "q.example", timeout=2.0)))
            await asyncio.sleep(0.005)
        status = await http_get(fleet.ready, "/ready")
        after = by_worker(await metrics(fleet))
        replies = await asyncio.gather(*tasks, return_exceptions=True)
        assert [r for r in replies if not isinstance(r, dns.message.Message)] == []
        assert after[0] > before[0]
        assert after[1] > before[1]
        assert status == (503, "Shutting down")
        assert await asyncio.wait_for(fleet.proc.wait(), 15) == 0


async def test_refuses_to_start_as_a_single_server_does(tmp_path: Path) -> None:
    """A broken Corefile, or a port another process holds, stops `--workers 2` at once, with
    the message and status a single server gives."""
    conf = tmp_path / "Corefile"
    conf.write_text(".:1053 {\n    whoami {\n}\n")

    async def run(workers: str) -> tuple[int | None, bytes, bytes]:
        proc = await start_kdns(
            "-conf",
            str(conf),
            "--workers",
            workers,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 15)
        return proc.returncode, out, err

    outcomes = []
    for workers in ("1", "2"):
        code, out, err = await run(workers)
        outcomes.append((code, err.decode()))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == 1
    assert "never closed" in outcomes[0][1]

    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        conf.write_text(f".:{port} {{\n    bind 127.0.0.1\n    whoami\n}}\n")
        code, out, err = await run("2")
    assert code == 1
    assert "listen failed" in err.decode()
    assert "worker" not in out.decode()
