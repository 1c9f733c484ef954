"""API faults, long runs: kdns (a subprocess) against the project's API server (this process).

A made-up cluster (`--services`, default 1,000) is served; kdns watches it with the default
client-go backoff. Faults, in order: the API down at startup, killed for `--minutes`
(default 1; the issue asks 5), slow (every answer held back 1 s), watch streams torn
halfway through an event's line, every watch answered 410 Gone, and a burst of `--burst`
(default 10,000) creates, updates and deletes of Services and EndpointSlices. During each
fault the cluster's own names are asked over and over against their answers from before
(they must not change); after each, every name the API state implies (and every name it
ever implied: deleted ones must be NXDOMAIN) is asked once kdns has caught up
(kdns.runtime.apicheck). One row per fault: fault | inputs | queries sent | lost | wrong |
command. Target: zero lost, zero wrong.

    python bench/faults_api.py [--minutes 5] [--services 1000] [--burst 10000] [--only killed]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import dns.exception

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.apicheck import Checker, Expected, Prober, Report, State
from kdns.runtime.apiload import BURST_FIRST, SERVICE_CIDRS, Churn, cluster
from kdns.runtime.testing import free_port, query

COREFILE = """.:{port} {{
    ready 127.0.0.1:{ready}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        startup_timeout 1s
    }}
}}
"""
FAULTS = ("startup", "killed", "slow", "torn", "gone", "burst")
#: How long kdns may take to catch up after a fault (its watch backoff reaches 30 s).
CATCH_UP = 120.0


@dataclass
class Run:
    """Everything a fault needs: the API, kdns's ports, the checker, the churn, the options."""

    api: ApiServer
    port: int
    ready: int
    checker: Checker
    churn: Churn
    base: State
    args: argparse.Namespace

    def prober(self) -> Prober:
        """Ask the cluster's own names (churn never touches them) until the block ends."""
        # Its own checker, 16 in flight: the prober and the settling checks run together.
        asker = Checker(self.port, parallel=16)
        return Prober(asker, Checker.plan_of(self.base), pause=0.05)

    async def settled(self) -> Report:
        """Every name ever implied, checked once kdns caught up (or CATCH_UP passed)."""
        return await self.checker.settle(State.from_api(self.api), CATCH_UP, pause=1.0)


def row(fault: str, inputs: str, during: Report, after: Report, command: str) -> str:
    """One table row; the problems (if any) follow it."""
    sent = during.sent + after.sent
    lost, wrong = during.lost + after.lost, during.wrong + after.wrong
    line = f"| {fault} | {inputs} | {sent} | {lost} | {wrong} | `{command}` |"
    for problem in (during.problems + after.problems)[:10]:
        line += f"\n    {problem}"
    return line


async def listening(port: int, within: float = 30.0) -> None:
    """Wait until kdns answers at all (it binds once synced, or after startup_timeout)."""
    end = time.monotonic() + within
    while True:
        try:
            await query(port, "dns-version.cluster.local.", "TXT", timeout=0.2)
            return
        except dns.exception.Timeout:
            if time.monotonic() > end:
                raise
        except OSError:
            await asyncio.sleep(0.1)


async def ready_status(port: int) -> int:
    """GET /ready of kdns; the HTTP status (0 if it does not answer)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0
    writer.write(b"GET /ready HTTP/1.1\r\nHost: kdns\r\nConnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return int(data.split()[1]) if data else 0


async def startup(run: Run) -> tuple[str, Report, Report]:
    """The API down while kdns starts: SERVFAIL and 503 until it comes up (counted as wrong
    otherwise), then every name right."""
    during = Report()
    plan = Checker.plan_of(run.base)[:200]
    servfail = [(p, Expected("SERVFAIL")) for p, _ in plan]
    seconds = 10.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        during.add(await run.checker.ask(servfail))
        if await ready_status(run.ready) != 503:
            during.wrong += 1
            during.problems.append("/ready was not 503 before the API came up")
        await asyncio.sleep(0.2)
    await run.api.start()
    after = await run.settled()
    if await ready_status(run.ready) != 200:
        after.wrong += 1
        after.problems.append("/ready was not 200 after the API came up")
    return f"{seconds:.0f} s down at start, {len(plan)} names", during, after


async def killed(run: Run) -> tuple[str, Report, Report]:
    """The API stopped for --minutes; 500 changes are written meanwhile; then it returns."""
    seconds = run.args.minutes * 60
    async with run.prober() as prober:
        await run.api.stop()
        await asyncio.sleep(seconds / 2)
        run.api.burst(run.churn.changes(500))
        run.checker.learn(State.from_api(run.api))
        await asyncio.sleep(seconds / 2)
        await run.api.start()
    return (
        f"{seconds:.0f} s down mid-run, 500 changes meanwhile",
        prober.report,
        await run.settled(),
    )


async def slow(run: Run) -> tuple[str, Report, Report]:
    """Every API answer held back 1 s for 30 s, streams cut every 10 s, 300 changes."""
    async with run.prober() as prober:
        run.api.slow(1.0)
        for _ in range(3):
            run.api.cut_watches()
            run.api.burst(run.churn.changes(100))
            run.checker.learn(State.from_api(run.api))
            await asyncio.sleep(10)
        run.api.slow(0)
    return "1 s per answer for 30 s, 3 cuts, 300 changes", prober.report, await run.settled()


async def torn(run: Run) -> tuple[str, Report, Report]:
    """10 tears halfway through an event's line (abort and clean end by turns), 50 changes
    each, every name checked after each."""
    after = Report()
    async with run.prober() as prober:
        for i in range(10):
            await run.api.wait_for_watches(3, timeout=60)
            run.api.tear_watches(abort=i % 2 == 0)
            run.api.burst(run.churn.changes(50))
            after.add(await run.settled())
    return "10 streams torn mid-event, 500 changes", prober.report, after


async def gone(run: Run) -> tuple[str, Report, Report]:
    """Every watch answered 410 for 30 s (ERROR events, then 410 statuses), 300 changes."""
    lists = run.api.list_calls.total()
    async with run.prober() as prober:
        for mode in ("event", "status"):
            run.api.refuse_watches(mode)  # type: ignore[arg-type]
            run.api.expire()
            for _ in range(3):
                run.api.burst(run.churn.changes(50))
                run.checker.learn(State.from_api(run.api))
                await asyncio.sleep(5)
        run.api.refuse_watches(None)
    inputs = (
        f"30 s of 410 ({run.api.refused_watches} watches refused, "
        f"{run.api.list_calls.total() - lists} re-lists), 300 changes"
    )
    return inputs, prober.report, await run.settled()


async def burst(run: Run) -> tuple[str, Report, Report]:
    """--burst changes written at once (past the 1,000-event window: watches re-list)."""
    count = run.args.burst
    async with run.prober() as prober:
        run.checker.learn(State.from_api(run.api))
        run.api.burst(run.churn.changes(count))
        run.checker.learn(State.from_api(run.api))
        after = await run.settled()
    return f"{count:,} changes at once", prober.report, after


STEPS: dict[str, Callable[[Run], Awaitable[tuple[str, Report, Report]]]] = {
    "startup": startup,
    "killed": killed,
    "slow": slow,
    "torn": torn,
    "gone": gone,
    "burst": burst,
}


async def main_async(args: argparse.Namespace) -> int:
    """Serve the cluster, start kdns, inject each fault and print its row."""
    api = ApiServer(port=free_port(), poll_interval=0, service_cidrs=SERVICE_CIDRS)
    api.burst(cluster(args.services))
    only = [f for f in FAULTS if f in (args.only or FAULTS)]
    print(
        f"kdns against the project's API server, {args.services:,} Services, target 0 lost 0 wrong"
    )
    print("| fault | inputs | queries sent | lost | wrong | command |")
    print("|---|---|---|---|---|---|")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", api.url)
        port, ready = free_port(), free_port()
        conf = Path(tmp) / "Corefile"
        conf.write_text(COREFILE.format(port=port, ready=ready, kubeconfig=kubeconfig))
        if "startup" not in only:
            await api.start()
        proc = subprocess.Popen(
            [sys.executable, "-m", "kdns.runtime", "-conf", str(conf), "-quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            run = Run(api, port, ready, Checker(port), Churn(7, first=BURST_FIRST), State(), args)
            run.base = State.from_api(api)
            await listening(port)
            if "startup" not in only:
                first = await run.settled()
                assert first.lost == first.wrong == 0, first.problems
            for fault in only:
                inputs, during, after = await STEPS[fault](run)
                command = f"python bench/faults_api.py --only {fault}"
                if fault == "killed" and args.minutes != 1.0:
                    command += f" --minutes {args.minutes:g}"
                print(row(fault, inputs, during, after, command), flush=True)
                failed += during.lost + during.wrong + after.lost + after.wrong
        finally:
            proc.terminate()
            proc.wait(20)
            await api.stop()
    return 1 if failed else 0


def main() -> int:
    """Parse the arguments and run the faults."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="API outage (default 1)")
    parser.add_argument("--services", type=int, default=1000, help="cluster size (default 1000)")
    parser.add_argument("--burst", type=int, default=10_000, help="burst size (default 10000)")
    parser.add_argument("--only", action="append", choices=FAULTS, help="run only this fault")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
