"""Instructions per first query, counted by valgrind's callgrind: a measure noise does not move.

The cold pass of bench/cluster_dns.py (workload 4) moves 20-30% from run to run on a shared
machine, more than a trim of the first-query path gains. This counts the CPU instructions the
server's own code runs per first query, in one process on the bench's cluster (`--services`
ClusterIP Services in the project's API server, kubeadm's current Corefile): the same figure
every run of the same build, so a change can be judged by it before the timed benchmark.

Two figures:
* fast path: `ZoneMux.fast_cold` on each name's first A query (the route, the cache letting
  the cluster zone pass, the kubernetes plugin packing the answer, the hot entry filed);
* batch loop: the same queries sent over a real UDP socket in batches of `--batch` and answered
  by the listener's batch loop (mmsg.py, batch.py): reading the datagrams, the hot table's
  miss, the fast path, the replies written and sent. The kernel's own work is not counted.

Needs valgrind (Debian package `valgrind`); runs each measurement under it (a minute each).

    python bench/cold_path.py [--queries 3000] [--batch 8]
"""

from __future__ import annotations

import argparse
import gc
import operator
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import cluster_dns
from perf import free_port

WARM_UP = 200


async def measure(mode: str, queries: int, batch: int) -> None:
    """Answer `queries` first queries, each (fast) or each batch (batch) inside operator.call,
    the C function callgrind counts in; `WARM_UP` other names first, uncounted."""
    import dns.message

    from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
    from kdns.runtime import mmsg
    from kdns.runtime.testing import running

    folder = Path(tempfile.mkdtemp(prefix="kdns-cold-"))
    names = queries + WARM_UP
    cluster_dns.write_inputs(folder, names)
    async with ApiServer([folder / "cluster.json"], poll_interval=0) as api:
        # the plugin finds the API server as kubectl would, as cluster_dns.start_kdns has it
        os.environ["KUBECONFIG"] = str(write_kubeconfig(folder / "kubeconfig", api.url))
        text = cluster_dns.corefile(cluster_dns.CURRENT, free_port(), free_port())
        async with running(text, folder) as server:
            mux = next(iter(server.current.muxes.values()))
            wires = [
                dns.message.make_query(cluster_dns.service_name(j), "A").to_wire()
                for j in range(names)
            ]
            warm, counted = wires[queries:], wires[:queries]
            if mode == "fast":
                remote = ("127.0.0.1", 40000)
                for wire in warm:
                    mux.fast_cold(wire, "udp", remote)
                gc.collect()
                for wire in counted:
                    operator.call(mux.fast_cold, wire, "udp", remote)
                return
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
            ):
                sock.bind(("127.0.0.1", 0))
                client.bind(("127.0.0.1", 0))
                client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
                udp = mmsg.BatchUdp(sock, ("dns", "127.0.0.1", 0), lambda key: mux, set())
                for group, call in ((warm, udp._drain), (counted, None)):
                    for i in range(0, len(group), batch):
                        chunk = group[i : i + batch]
                        for wire in chunk:
                            client.sendto(wire, sock.getsockname())
                        if call is not None:
                            call()
                        else:
                            operator.call(udp._drain)
                        for _ in chunk:
                            client.recv(4096)
                    gc.collect()


def count(mode: str, queries: int, batch: int) -> float:
    """Run `mode` under callgrind; return instructions per query."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}/callgrind.out",
            "--toggle-collect=_operator_call",
            sys.executable,
            __file__,
            "--inside",
            mode,
            "--queries",
            str(queries),
            "--batch",
            str(batch),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[-1].replace(",", "")) / queries
    raise RuntimeError("callgrind printed no count:\n" + done.stderr[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--inside", choices=("fast", "batch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        import uvloop

        uvloop.run(measure(args.inside, args.queries, args.batch))
        return 0
    if shutil.which("valgrind") is None:
        print("cold_path.py needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 1
    from kdns.runtime.serve import build

    print(f"kdns {build()}, {args.queries} first queries (A, one name each), callgrind")
    print(f"{'path':<36}{'instructions per query':>24}")
    fast = count("fast", args.queries, args.batch)
    print(f"{'fast path (ZoneMux.fast_cold)':<36}{fast:>24,.0f}")
    loop = count("batch", args.queries, args.batch)
    label = f"batch loop, batches of {args.batch}"
    print(f"{label:<36}{loop:>24,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
