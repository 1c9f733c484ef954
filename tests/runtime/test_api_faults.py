"""API faults, quick versions: kdns over real sockets while its API server is down at startup,
killed, slow, cuts its watch streams mid-event, answers 410 again and again, or takes a burst
of changes. After each, every name the API state implies is asked (kdns.runtime.apicheck) and
must match; during each, names that do not change must keep their answers. The long runs are
in bench/faults_api.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import dns.rcode
import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.apicheck import Checker, Prober, Report, State, quick_retry
from kdns.runtime.apiload import BURST_FIRST, SERVICE_CIDRS, Churn, cluster
from kdns.runtime.testing import free_port, query, running

#: Watches kdns keeps open: Namespaces, Services, EndpointSlices.
WATCHES = 3


def corefile(port: int, kubeconfig: Path, ready: int = 0) -> str:
    """A block serving cluster.local and the reverse zones from the API server."""
    ready_line = f"    ready 127.0.0.1:{ready}\n" if ready else ""
    return (
        f".:{port} {{\n{ready_line}    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n"
        f"        kubeconfig {kubeconfig}\n        startup_timeout 200ms\n    }}\n}}\n"
    )


@dataclasses.dataclass
class Served:
    """The API server, a kdns watching it, and a checker of that kdns."""

    api: ApiServer
    port: int
    checker: Checker
    churn: Churn
    #: The names of the cluster before any fault: churn never touches them.
    base: State

    async def settled(self, within: float = 20.0) -> Report:
        """Check every name against the API state until right (or `within` passed)."""
        return await self.checker.settle(State.from_api(self.api), within)

    def prober(self) -> Prober:
        """Ask every name of the cluster from before the faults (churn leaves them alone)
        against its first answer, until the block ends."""
        return Prober(self.checker, Checker.plan_of(self.base))


def clean(report: Report) -> bool:
    """Tell whether nothing was lost or wrong (the problems are in the assert message)."""
    return report.sent > 0 and report.lost == report.wrong == 0


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """A made-up cluster of 40 Services and a kdns that has synced it (quick retries)."""
    async with ApiServer(poll_interval=0, service_cidrs=SERVICE_CIDRS) as api:
        api.burst(cluster(40))
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        port = free_port()
        async with running(corefile(port, kubeconfig), tmp_path, quick_retry()):
            churn = Churn(seed=8, first=BURST_FIRST)
            base = State.from_api(api)
            s = Served(api, port, Checker(port), churn, base)
            first = await s.settled()
            assert clean(first), first.problems
            await api.wait_for_watches(WATCHES)
            yield s


async def ready_status(port: int) -> int:
    """GET /ready; return the HTTP status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /ready HTTP/1.1\r\nHost: kdns\r\nConnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return int(data.split()[1])


async def test_api_down_at_startup(tmp_path: Path) -> None:
    """Before the API answers: not ready (503) and cluster names SERVFAIL; once it comes up,
    ready (200) and every name answers as the API state says."""
    api = ApiServer(port=free_port(), poll_interval=0, service_cidrs=SERVICE_CIDRS)
    api.burst(cluster(20))
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
    port, ready = free_port(), free_port()
    async with running(corefile(port, kubeconfig, ready), tmp_path, quick_retry()):
        checker = Checker(port)
        plan = checker.plan(State.from_api(api))
        for p, _ in plan[:20]:
            assert (await query(port, p.qname, p.qtype)).rcode() == dns.rcode.SERVFAIL
        assert await ready_status(ready) == 503
        async with api:
            report = await checker.settle(State.from_api(api))
            assert clean(report), report.problems
            assert await ready_status(ready) == 200


async def test_api_killed_mid_run(served: Served) -> None:
    """Five seconds without the API server: every known name keeps its answer; changes made
    meanwhile arrive once it is back."""
    api = served.api
    async with served.prober() as prober:
        await api.stop()
        await asyncio.sleep(5)
        api.burst(served.churn.changes(200))  # written "to etcd" while the API is down
        await api.start()
    assert clean(prober.report), prober.report.problems
    assert prober.report.sent > 5 * 100  # asked all along the outage
    report = await served.settled()
    assert clean(report), report.problems


async def test_slow_api_keeps_answers_coming(served: Served) -> None:
    """Every API answer held back 0.5 s: names keep answering, and changes still arrive."""
    api = served.api
    async with served.prober() as prober:
        api.slow(0.5)
        api.cut_watches()  # reopened watches (and their lists) now wait
        api.burst(served.churn.changes(100))
        await asyncio.sleep(2)
    assert clean(prober.report), prober.report.problems
    report = await served.settled()
    assert clean(report), report.problems


@pytest.mark.parametrize("abort", [True, False])
async def test_watch_torn_mid_event(served: Served, abort: bool) -> None:
    """Streams broken halfway through an event's JSON line, three times over: the event is
    neither lost nor applied twice (every answer matches), and no name stops answering."""
    api = served.api
    async with served.prober() as prober:
        for _ in range(3):
            await api.wait_for_watches(WATCHES)
            torn = api.watch_calls.total()
            assert api.tear_watches(abort=abort) == WATCHES
            api.burst(served.churn.changes(30))
            async with asyncio.timeout(5):
                while api.watch_calls.total() < torn + 2:  # Services, EndpointSlices
                    await asyncio.sleep(0.01)
            report = await served.settled()
            assert clean(report), report.problems
    assert clean(prober.report), prober.report.problems
    assert sum(api.list_calls.values()) == WATCHES  # resumed, never re-listed


@pytest.mark.parametrize("mode", ["event", "status"])
async def test_repeated_410(served: Served, mode: str) -> None:
    """Two seconds of every watch answered 410 Gone: kdns re-lists with backoff (no tight
    loop), keeps answering, and after the storm the answers match the API state."""
    api = served.api
    lists = api.list_calls.total()
    async with served.prober() as prober:
        api.refuse_watches(mode)  # type: ignore[arg-type]
        api.expire()  # the open watches get their 410 now
        for _ in range(4):
            api.burst(served.churn.changes(25))
            await asyncio.sleep(0.5)
        api.refuse_watches(None)
    assert clean(prober.report), prober.report.problems
    # Backoff 0.05 s doubling to 0.5 s: about 6 lists per kind in 2 s; a loop makes hundreds.
    assert 3 <= api.refused_watches <= 3 * 12
    assert api.list_calls.total() - lists <= 3 * 13
    report = await served.settled()
    assert clean(report), report.problems


async def test_burst_of_changes(served: Served) -> None:
    """2,000 creates, updates and deletes of Services and EndpointSlices at once (past the
    1,000-event window): names outside the burst keep answering, and the burst's names end
    exactly as the API state says, deleted ones NXDOMAIN."""
    async with served.prober() as prober:
        served.checker.learn(State.from_api(served.api))
        for _ in range(2):
            served.api.burst(served.churn.changes(1000))
            served.checker.learn(State.from_api(served.api))  # so deletions get checked
            await asyncio.sleep(0.2)
        report = await served.settled(within=30)
    assert clean(prober.report), prober.report.problems
    assert clean(report), report.problems
    plan = served.checker.plan(State.from_api(served.api))
    assert sum(want.rcode == "NXDOMAIN" for _, want in plan) > 200  # deletions were asked


async def test_checker_sees_a_change_kdns_missed(served: Served) -> None:
    """The checker is not blind: with the API stopped, changes kdns cannot see are reported
    as wrong answers (deleted names still answering, new ones NXDOMAIN)."""
    await served.api.stop()
    served.api.burst(served.churn.changes(20))
    report = await served.checker.check(State.from_api(served.api))
    assert report.wrong >= 10
    assert report.lost == 0
    await served.api.start()
