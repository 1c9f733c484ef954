"""Corefile faults under load: each fault many times, then a thousand reloads in a row.

Starts `kdns -conf` on a ConfigMap-style folder (tests/runtime/config_faults.py: without the
file-mode capabilities when run as root, so that `chmod 000` really blocks reads), keeps a
steady UDP load on a name whose answer names the configuration version, and injects each fault
of that module repeatedly: the Corefile deleted, replaced by a dangling symlink or a directory,
made unreadable, truncated mid-block, replaced by binary or text garbage, emptied. After
each, the failed reload must be logged with file:line:col and the old answer must go on; then
a good Corefile is published and must be served. Finally
`--reloads` good updates in a row (each a real reload) while RSS, threads and descriptors of
the kdns process are read from /proc.

A query is lost without a reply within 2 s, wrong if not NOERROR with one A record from a
version that was published. One row per fault:

    python bench/faults_config.py [--rounds 20] [--reloads 1000] [--qps 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

import dns.message
import dns.rcode

from kdns.runtime.testing import UdpLoad, free_port, import_path, proc_stats

#: The Corefile, the kdns on its folder and the faults, shared with the tests.
CF = import_path("config_faults", Path(__file__).parent.parent / "tests/runtime/config_faults.py")


def _right(valid: set[str], reply: dns.message.Message) -> bool:
    """NOERROR with one A record, from a version that was published."""
    answer = [rd.address for rrs in reply.answer for rd in rrs]
    return reply.rcode() == dns.rcode.NOERROR and len(answer) == 1 and answer[0] in valid


class Kdns(CF.Served):
    """The kdns process serving the folder; publishing a version makes its answer right."""

    def __init__(self, folder: Path, port: int, valid: set[str]) -> None:
        super().__init__(folder, port)
        self.valid = valid

    def publish(self, version: int) -> None:
        """Publish a good Corefile as the kubelet does; its answer becomes a right one."""
        self.valid.add(f"10.0.{version}.1")
        super().publish(version)


FAULTS = CF.FAULTS
COMMAND = "python bench/faults_config.py"


async def run(rounds: int, reloads: int, qps: int) -> list[tuple[str, str, int, int, int]]:
    """Inject every fault `rounds` times, then do `reloads` reloads; return the table rows."""
    base = Path(tempfile.mkdtemp(prefix="kdns-faults-config-"))
    port = free_port()
    valid: set[str] = set()
    load = UdpLoad(port, qps, "changed.test", partial(_right, valid))
    kdns = Kdns(base / "coredns", port, valid)
    kdns.publish(1)
    await kdns.start()
    rows: list[tuple[str, str, int, int, int]] = []
    try:
        await kdns.wait_address("10.0.1.1", within=30)
        runner = asyncio.create_task(load.run())
        version = 1
        for fault, (inflict, error) in FAULTS.items():
            load.phase = fault
            for _ in range(rounds):
                mark = len(kdns.lines)
                served = f"10.0.{kdns.version}.1"
                inflict(kdns)
                await kdns.wait_line(error, mark)
                if await kdns.address() != served:
                    raise RuntimeError(f"{fault}: the old configuration stopped answering")
                version = version % 250 + 1
                kdns.publish(version)
                await kdns.wait_address(f"10.0.{version}.1")
            rows.append((fault, f"{rounds} injections, each then fixed", 0, 0, 0))
        load.phase = "reloads"
        for _ in range(20):  # warm-up
            version = version % 250 + 1
            kdns.publish(version)
            await kdns.wait_address(f"10.0.{version}.1")
        before = proc_stats(kdns.proc.pid)
        for _ in range(reloads):
            version = version % 250 + 1
            kdns.publish(version)
            await kdns.wait_address(f"10.0.{version}.1")
        await asyncio.sleep(1.0)
        after = proc_stats(kdns.proc.pid)
        rows.append(
            (
                "reloads in a row",
                f"{reloads} reloads; RSS {before[0] // 1024}->{after[0] // 1024} MiB, threads "
                f"{before[1]}->{after[1]}, fds {before[2]}->{after[2]}",
                0,
                0,
                0,
            )
        )
        load.stop.set()
        await runner
    finally:
        await kdns.stop()
        shutil.rmtree(base, ignore_errors=True)
    tracebacks = sum("Traceback" in line for line in kdns.lines)
    if tracebacks:
        raise RuntimeError(f"kdns logged {tracebacks} tracebacks")
    phases = {"reloads in a row": "reloads"}
    return [
        (name, inputs, load.sent[p], load.lost[p], load.wrong[p])
        for name, inputs, *_ in rows
        for p in [phases.get(name, name)]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="injections of each fault")
    parser.add_argument("--reloads", type=int, default=1000, help="good reloads in a row")
    parser.add_argument("--qps", type=int, default=1000, help="UDP load during the run")
    args = parser.parse_args()
    rows = asyncio.run(run(args.rounds, args.reloads, args.qps))
    print("fault | inputs tried | queries sent | lost | wrong | command")
    print("--- | --- | --- | --- | --- | ---")
    for fault, inputs, sent, lost, wrong in rows:
        print(f"{fault} | {inputs} | {sent} | {lost} | {wrong} | {COMMAND}")
    return 0 if all(row[3] == row[4] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
