"""Cluster DNS workloads: `kdns serve` against dnsmasq, side by side, measured with dnsperf.

One command, one table. The project's API server (another process) holds a cluster of
`--services` ClusterIP Services; kdns watches it with kubeadm's Corefiles; dnsmasq (Debian)
serves the same names from a generated hosts file with `--local=/cluster.local/`, so names it
does not hold are NXDOMAIN as they are for kdns. A second dnsmasq is the upstream both servers
forward other names to. The workloads (issue 6):

1. cluster names answered by the kubernetes plugin: kubeadm's current Corefile (its cache
   has `disable success/denial cluster.local`), 1,000 names;
2. the same names as cache hits: kubeadm's earlier Corefile with a plain `cache 30`;
3. the ndots:5 search-path mix of a pod in `default` looking up external names: three NXDOMAINs
   from the cluster zone, then the name itself (forwarded, then cached), A and AAAA;
4. every Service name (`--services`, 10,000): the first pass through them on a fresh server
   (cold: synced, its heap settled, one name asked so far; `--rounds` fresh servers, the round
   with the median CPU per 1,000 answers shown), then steady state (warm), with kubeadm's
   current Corefile.

For each: maximum qps at full rate, p50/p99 latency at a fixed load of half dnsmasq's maximum
(where queueing does not drown the figure; the first 0.5 s of each run left out, as dnsperf's
own start delays them for both servers; the median of `--rounds` runs per server, taken in
turns, as this machine is shared and noisy), server CPU seconds per 1,000 answered queries, peak
RSS and the share of queries answered. dnsperf runs on the same machine: with one kdns worker it
is pinned to the last core and the servers to the others (taskset), so neither steals the
other's core; `--no-pin` leaves placement to the scheduler.

    python bench/cluster_dns.py [--seconds 10] [--services 10000] [--workers N] [--no-pin]
                                [--rounds 3] [--only 4123]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import perf
from perf import Result, dnsperf, free_port, latency, throughput, wait_ready

from kdns.runtime.serve import build

NAMESPACES = 10
HOT = 1000
EXTERNAL = 100
#: Seconds kdns gets after its first answer to settle its heap before the cold pass.
SETTLE = 2.0

CURRENT = """\
.:{port} {{
    errors
    health 127.0.0.1:{health} {{
       lameduck 5s
    }}
    ready 127.0.0.1:{ready}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus 127.0.0.1:{metrics}
    forward . 127.0.0.1:{upstream} {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success cluster.local
       disable denial cluster.local
    }}
    loop
    reload
    loadbalance
}}
"""

EARLIER = """\
.:{port} {{
    errors
    health 127.0.0.1:{health}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }}
    prometheus 127.0.0.1:{metrics}
    forward . 127.0.0.1:{upstream}
    cache 30
    loop
    reload
    loadbalance
}}
"""


def service_name(j: int) -> str:
    return f"svc{j}.ns{j % NAMESPACES}.svc.cluster.local"


def cluster_ip(j: int) -> str:
    n = 0x0A600000 + 16 + j  # 10.96.0.16 on, inside 10.96.0.0/12
    return ".".join(str((n >> s) & 0xFF) for s in (24, 16, 8, 0))


def cluster(services: int) -> dict[str, Any]:
    """The cluster as one JSON List manifest."""
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        for ns in ["default", "kube-system", *(f"ns{i}" for i in range(NAMESPACES))]
    ]
    for j in range(services):
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc{j}", "namespace": f"ns{j % NAMESPACES}"},
                "spec": {
                    "clusterIP": cluster_ip(j),
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                },
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}


def external(i: int) -> str:
    return f"api{i}.example.com"


def write_inputs(folder: Path, services: int) -> None:
    """The cluster manifest, both hosts files and the query files of the workloads."""
    (folder / "cluster.json").write_text(json.dumps(cluster(services)))
    (folder / "cluster.hosts").write_text(
        "".join(f"{cluster_ip(j)} {service_name(j)}\n" for j in range(services))
    )
    (folder / "upstream.hosts").write_text(
        "".join(
            f"203.0.113.{i + 1} {external(i)}\n2001:db8::{i + 1:x} {external(i)}\n"
            for i in range(EXTERNAL)
        )
    )
    (folder / "hot.txt").write_text("".join(f"{service_name(j)} A\n" for j in range(HOT)))
    (folder / "all.txt").write_text("".join(f"{service_name(j)} A\n" for j in range(services)))
    search = ("default.svc.cluster.local", "svc.cluster.local", "cluster.local")
    lines = []
    for i in range(EXTERNAL):
        for qtype in ("A", "AAAA"):
            lines += [f"{external(i)}.{suffix} {qtype}\n" for suffix in search]
            lines.append(f"{external(i)} {qtype}\n")
    (folder / "search.txt").write_text("".join(lines))


def dnsmasq(port: int, folder: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *perf.SERVER_CPUS,
            "dnsmasq",
            "--no-daemon",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--cache-size=10000",
            f"--pid-file={folder / f'dnsmasq-{port}.pid'}",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def processes(*procs: subprocess.Popen[Any]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def start_apiserver(folder: Path) -> subprocess.Popen[str]:
    args = [str(folder / "cluster.json"), "--port", "0", "--kubeconfig", str(folder / "kubeconfig")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kdns.runtime", "apiserver", *args],
        stdout=subprocess.PIPE,
        stderr=(folder / "apiserver.log").open("w"),
        text=True,
    )
    assert proc.stdout is not None
    if "serving" not in proc.stdout.readline():
        proc.kill()
        raise RuntimeError(f"the API server did not start; see {folder / 'apiserver.log'}")
    return proc


def corefile(template: str, port: int, upstream: int) -> str:
    """`template` (CURRENT or EARLIER) for a server on `port`, with free ports for the rest."""
    return template.format(
        port=port, health=free_port(), ready=free_port(), metrics=free_port(), upstream=upstream
    )


def start_kdns(
    folder: Path, name: str, template: str, upstream: int, workers: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    path = folder / f"{name}.Corefile"
    path.write_text(corefile(template, port, upstream))
    command = [*perf.SERVER_CPUS, sys.executable, "-m", "kdns.runtime", "serve", "-conf", str(path)]
    command.append("-quiet")
    if workers > 1:
        command += ["--workers", str(workers)]
    env = dict(os.environ, KUBECONFIG=str(folder / "kubeconfig"))
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=(folder / f"{name}.log").open("w")
    )
    return proc, port


def run(args: argparse.Namespace, folder: Path) -> list[tuple[str, Result, Result]]:
    write_inputs(folder, args.services)
    up, peer_port = free_port(), free_port()
    upstream = dnsmasq(  # TTL 30: the answers are cached downstream, as the workload says
        up,
        folder,
        f"--addn-hosts={folder / 'upstream.hosts'}",
        "--local=/example.com/",
        "--local-ttl=30",
    )
    peer = dnsmasq(
        peer_port,
        folder,
        f"--addn-hosts={folder / 'cluster.hosts'}",
        "--local=/cluster.local/",
        f"--server=127.0.0.1#{up}",
        "--local-ttl=30",
    )
    api = start_apiserver(folder)
    rows: list[tuple[str, Result, Result]] = []
    with processes(upstream, peer, api):
        current, current_port = start_kdns(folder, "current", CURRENT, up, args.workers)
        earlier, earlier_port = start_kdns(folder, "earlier", EARLIER, up, args.workers)
        with processes(current, earlier):
            for port, log in (
                (peer_port, None),
                (current_port, "current"),
                (earlier_port, "earlier"),
            ):
                try:
                    wait_ready(port, service_name(0))
                except RuntimeError:
                    if log is not None:
                        print((folder / f"{log}.log").read_text()[-3000:], file=sys.stderr)
                    raise
            # kdns collects and freezes its heap once ready (runtime/heap.py): a one-time
            # startup step, like the sync, left out of the cold pass that follows
            time.sleep(SETTLE)
            # 4 first: the current server has answered one name so far (cold)
            if "4" in args.only:
                rows.append(cold(args, folder, peer, peer_port, current, current_port, up))
            plan = [
                ("4", "4. 10k names, warm", current, current_port, "all.txt"),
                ("1", "1. kubernetes plugin", current, current_port, "hot.txt"),
                ("2", "2. cache hits", earlier, earlier_port, "hot.txt"),
                ("3", "3. ndots:5 search mix", current, current_port, "search.txt"),
            ]
            for number, title, mine, my_port, queries in plan:
                if number in args.only:
                    rows.append(pair(args, title, peer, peer_port, mine, my_port, queries))
    return rows


def cold(
    args: argparse.Namespace,
    folder: Path,
    peer: subprocess.Popen[bytes],
    peer_port: int,
    first: subprocess.Popen[bytes],
    first_port: int,
    upstream: int,
) -> tuple[str, Result, Result]:
    """Workload 4's first pass through every name, once per round: on `first`, then on a
    fresh kdns each further round (dnsmasq holds no such state: the same one each time).

    One pass is 10,000 queries, about a tenth of a second of CPU (counted by the scheduler in
    nanoseconds, perf.cpu_threads) on a shared machine: each server's row is its round with the
    median CPU per 1,000 answers.
    """
    path = folder / "all.txt"
    rounds: dict[str, list[Result]] = {"dnsmasq": [], "kdns": []}
    for n in range(args.rounds):
        theirs, ours = Result("dnsmasq"), Result("kdns")
        throughput(theirs, peer.pid, peer_port, path, 0, once=True)
        rounds["dnsmasq"].append(theirs)
        if n == 0:
            throughput(ours, first.pid, first_port, path, 0, once=True)
        else:
            fresh, port = start_kdns(folder, f"cold{n}", CURRENT, upstream, args.workers)
            with processes(fresh):
                wait_ready(port, service_name(0))
                time.sleep(SETTLE)
                throughput(ours, fresh.pid, port, path, 0, once=True)
        rounds["kdns"].append(ours)
    by_cpu = {
        name: sorted(results, key=lambda r: r.cpu_per_1000) for name, results in rounds.items()
    }
    cpu = {
        name: " ".join(f"{r.cpu_per_1000:.4f}" for r in results) for name, results in rounds.items()
    }
    title = "4. 10k names, cold"
    print(
        f"  {title}: CPU s per 1,000 by round: dnsmasq {cpu['dnsmasq']}, kdns {cpu['kdns']}",
        flush=True,
    )
    middle = (args.rounds - 1) // 2
    return title, by_cpu["dnsmasq"][middle], by_cpu["kdns"][middle]


def pair(
    args: argparse.Namespace,
    title: str,
    peer: subprocess.Popen[bytes],
    peer_port: int,
    mine: subprocess.Popen[bytes],
    my_port: int,
    queries: str,
) -> tuple[str, Result, Result]:
    """Measure dnsmasq then kdns on one workload; latency at half dnsmasq's maximum."""
    path = Path(args.folder) / queries
    theirs, ours = Result("dnsmasq"), Result("kdns")
    for port in (peer_port, my_port):
        dnsperf(port, path, 2)  # warm: upstream answers cached, ready answers computed
    throughput(theirs, peer.pid, peer_port, path, args.seconds)
    throughput(ours, mine.pid, my_port, path, args.seconds)
    half = theirs.qps / 2
    # this machine is shared: a burst of someone else's work lands on one server's run, so
    # the servers take turns, and each keeps the median of its rounds
    rounds: dict[str, list[tuple[float, float]]] = {"dnsmasq": [], "kdns": []}
    for _ in range(args.rounds):
        for result, port in ((theirs, peer_port), (ours, my_port)):
            latency(result, port, path, half, min(args.seconds, 5))
            rounds[result.name].append((result.p50_ms, result.p99_ms))
    for result in (theirs, ours):
        result.p50_ms = statistics.median(p50 for p50, _ in rounds[result.name])
        result.p99_ms = statistics.median(p99 for _, p99 in rounds[result.name])
    p99s = {name: " ".join(f"{p99:.2f}" for _, p99 in runs) for name, runs in rounds.items()}
    print(
        f"  {title}: dnsmasq {theirs.qps:.0f} qps, kdns {ours.qps:.0f} qps; "
        f"p99 ms by round: dnsmasq {p99s['dnsmasq']}, kdns {p99s['kdns']}",
        flush=True,
    )
    return title, theirs, ours


def report(rows: list[tuple[str, Result, Result]], args: argparse.Namespace) -> None:
    workers = f", kdns --workers {args.workers}" if args.workers > 1 else ""
    workers += ", dnsperf and the servers pinned to separate cores" if args.pinned else ""
    print(
        f"\n{args.services} Services, kdns {build()}, {args.seconds:g}s per full-rate run"
        f"{workers}; latency at half of dnsmasq's maximum and cold passes: "
        f"median of {args.rounds} rounds"
    )
    head = (
        f"{'workload':<24}{'server':<9}{'qps':>9}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'cpu s/1k':>9}{'rss MiB':>8}{'answered':>10}"
    )
    print(head)
    print("-" * len(head))
    for title, theirs, ours in rows:
        for r in (theirs, ours):
            ratio = f"{ours.qps / theirs.qps:.2f}" if r is ours and theirs.qps else ""
            lat = f"{r.p50_ms:>8.3f}{r.p99_ms:>8.3f}" if r.p50_ms else f"{'-':>8}{'-':>8}"
            print(
                f"{title if r is theirs else '':<24}{r.name:<9}{r.qps:>9.0f}{ratio:>7}{lat}"
                f"{r.cpu_per_1000:>9.4f}{r.rss_mib:>8.1f}{r.answered:>9.3f}%"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="kdns serve --workers")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="latency runs per server, taken in turns, and cold passes (median)",
    )
    parser.add_argument(
        "--only", default="4123", help="the workloads to run, by number (default: 4123, all)"
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let the scheduler place dnsperf and the servers (default with one worker: "
        "dnsperf on the last core, the servers on the others)",
    )
    args = parser.parse_args()
    for tool in ("dnsperf", "dnsmasq"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: apt-get install dnsperf dnsmasq-base", file=sys.stderr)
            return 1
    args.pinned = not args.no_pin and args.workers == 1 and perf.pin()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        args.folder = tmp
        rows = run(args, Path(tmp))
    report(rows, args)
    print(f"(took {time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
