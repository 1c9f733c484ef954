"""kdns's memory and sync time on a 5,000-node cluster (150,000 pods, 8,200 services).

Writes the scale-test cluster (bench/k8s_shape.py: 75,000 endpoints in EndpointSlices) as one
JSON manifest, serves it with the project's API server in its own process (`kdns apiserver`, so
its memory is not kdns's), then for `pods insecure` and `pods verified` starts `kdns -conf` on a
free port and measures:

* sync: process start to /ready 200, and to the first correct answer (a Service's A record;
  with `pods verified`, also a pod's A record);
* steady RSS: VmRSS once synced and idle for a few seconds;
* re-list peak: VmHWM (reset first through /proc/PID/clear_refs) while every watch is ended
  with 410 Gone (the API server's `POST /debug/expire`) and kdns re-lists every kind; twice by
  default, as the 15-minute resync repeats it.

Targets: steady RSS <= 0.6x CoreDNS's published formula (scaling guide: (pods+services)/1000
+ 54 MB, or /250 + 56 MB with `pods verified`), re-list peak <= 1.3x steady RSS.

    python bench/k8s_scale.py [--small | --scale F] [--modes insecure,verified] [--relists N]
                              [--qps N] [--profile]

Takes about 5 minutes (the API server alone loads for ~20 s; `pods verified` lists 300 pages
of pods at the client's default 5 requests/s, `--qps 1000` lifts that). `--small` is a twentieth
of the shape and takes under a minute; there the steady-RSS target is shown but not judged (it
scales with the cluster, kdns's fixed ~80 MB baseline does not). `--profile` runs kdns under
tracemalloc (RSS figures then include its overhead) and prints where the traced memory is,
steady and during the re-list. Exits 1 when a judged target is missed.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dnslib import QTYPE, RCODE, DNSRecord
from k8s_shape import (
    Shape,
    cluster_ip,
    is_headless,
    namespace_name,
    pod_ip,
    service_name,
    write,
)
from k8s_tracemalloc import print_profile

from kdns.runtime.testing import free_port

COREFILE = """\
.:{dns} {{
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods {mode}{extra}
    }}
}}
"""
#: The kinds each mode watches (each re-lists on a 410).
KINDS: dict[str, tuple[str, ...]] = {"insecure": ("Namespace", "Service", "EndpointSlice")}
KINDS["verified"] = (*KINDS["insecure"], "Pod")


def formula_mb(mode: str, shape: Shape) -> float:
    """CoreDNS's published memory for this many pods and services (MB)."""
    n = shape.pods + shape.services
    return n / 1000 + 54 if mode == "insecure" else n / 250 + 56


def status(pid: int, field: str) -> float:
    """A /proc/PID/status memory field (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def http(url: str, method: str = "GET") -> tuple[int, str]:
    """One request; (status, body), status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""
    except OSError:
        return 0, ""


def lookup(port: int, name: str, qtype: str = "A") -> tuple[str, list[str]]:
    """Ask kdns; (rcode name, answer data), ("TIMEOUT", []) without a reply."""
    try:
        raw = DNSRecord.question(name, qtype).send("127.0.0.1", port, timeout=0.5)
    except OSError:
        return "TIMEOUT", []
    reply = DNSRecord.parse(raw)
    answers = [str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype)]
    return RCODE[reply.header.rcode], answers


@dataclass
class Probe:
    """A query whose right answer proves the data it depends on is in."""

    name: str
    want: str

    def ok(self, port: int) -> bool:
        """Tell whether kdns answers it right now."""
        return lookup(port, self.name) == ("NOERROR", [self.want])


def probes(mode: str, shape: Shape) -> list[Probe]:
    """The last ClusterIP Service listed; with `pods verified`, also the last pod's name."""
    j = max(j for j in range(shape.services) if not is_headless(j))
    ns = namespace_name(j % shape.namespaces)
    found = [Probe(f"{service_name(j)}.{ns}.svc.cluster.local", cluster_ip(j))]
    if mode == "verified":
        i = shape.pods - 1
        ip = pod_ip(i, shape.nodes)
        ns = namespace_name(i % shape.namespaces)
        found.append(Probe(f"{ip.replace('.', '-')}.{ns}.pod.cluster.local", ip))
    return found


class Sampler:
    """Polls VmRSS every 5 ms in a thread and keeps the highest (a cross-check for VmHWM)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            try:
                self.peak = max(self.peak, status(self.pid, "VmRSS"))
            except (OSError, KeyError):
                return

    def stop(self) -> float:
        """Stop; return the peak (MB)."""
        self._stop.set()
        self._thread.join()
        return self.peak


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.02) -> float:
    """Poll `check` until true; return the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)
    return time.monotonic() - start


def start_apiserver(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    """Serve tmp/cluster.json from another process (log: tmp/apiserver.log); return it and
    its URL."""
    port = free_port()
    start = time.monotonic()
    args = [str(tmp / "cluster.json"), "--port", str(port), "--kubeconfig", str(tmp / "kubeconfig")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kdns.runtime", "apiserver", *args],
        stdout=subprocess.PIPE,
        stderr=(tmp / "apiserver.log").open("w"),
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        raise RuntimeError(f"the API server did not start: {line!r}")
    print(f"API server: {line.strip()} in {time.monotonic() - start:.1f}s", flush=True)
    return proc, line.split(" at ")[1].split()[0]


def relists(metrics_port: int) -> dict[str, float]:
    """kdns's count of 410 re-lists, by kind."""
    _, text = http(f"http://127.0.0.1:{metrics_port}/metrics")
    found = re.findall(r'kdns_kubernetes_relists_total\{kind="(\w+)",reason="gone"\} (\S+)', text)
    return {kind: float(count) for kind, count in found}


@dataclass
class Relist:
    """One forced re-list: how long it took, the peaks during it, RSS once idle again (MB)."""

    seconds: float
    hwm: float
    sampled: float
    after: float


@dataclass
class Result:
    """What one mode measured (seconds, MB)."""

    mode: str
    ready: float
    answer: float
    steady: float
    relists: list[Relist]
    snapshots: Path | None = None

    @property
    def peak(self) -> float:
        """The highest VmHWM over the re-lists."""
        return max(r.hwm for r in self.relists)


class Kdns:
    """kdns serving the cluster in one mode, with its DNS, ready and metrics ports."""

    def __init__(self, mode: str, tmp: Path, profile: bool, extra: str = "") -> None:
        self.mode = mode
        self.dns, self.ready, self.metrics = free_port(), free_port(), free_port()
        corefile = tmp / f"Corefile.{mode}"
        corefile.write_text(
            COREFILE.format(
                dns=self.dns,
                ready=self.ready,
                metrics=self.metrics,
                kubeconfig=tmp / "kubeconfig",
                mode=mode,
                extra=extra,
            )
        )
        self.snapshots = tmp / f"profile-{mode}" if profile else None
        runner = ["-m", "kdns.runtime"]
        if self.snapshots is not None:
            runner = [str(Path(__file__).with_name("k8s_tracemalloc.py")), str(self.snapshots)]
        self.log = tmp / f"kdns-{mode}.log"
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, *runner, "-conf", str(corefile), "-quiet"],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )
        self._signalled, self._asked = 0.0, 0

    def rss(self, field: str = "VmRSS") -> float:
        """A memory figure of the process (MB)."""
        return status(self.proc.pid, field)

    def snapshot(self, every: float = 0.0, wait: bool = False) -> None:
        """Under --profile, ask for a tracemalloc snapshot: one at a time (a snapshot of a
        big heap takes seconds), at most once per `every` s; `wait` for it to be written."""
        folder = self.snapshots
        if folder is None:
            return

        def written() -> int:
            return len(list(folder.glob("snapshot-*.txt")))

        if written() < self._asked or time.monotonic() - self._signalled < every:
            return
        self.proc.send_signal(signal.SIGUSR2)
        self._signalled, self._asked = time.monotonic(), self._asked + 1
        if wait:
            wait_for("tracemalloc snapshot", lambda: written() >= self._asked, 120, 0.1)

    def synced(self, checks: list[Probe]) -> tuple[float, float]:
        """Wait for /ready 200 and for every probe to answer right; return both times."""
        t_ready = t_answer = 0.0
        while not (t_ready and t_answer):
            if self.proc.poll() is not None:
                raise RuntimeError(f"kdns exited {self.proc.returncode}; see {self.log}")
            now = time.monotonic() - self.started
            if now > 600:
                raise RuntimeError("kdns did not sync within 600s")
            if not t_ready and http(f"http://127.0.0.1:{self.ready}/ready")[0] == 200:
                t_ready = now
            if not t_answer and all(p.ok(self.dns) for p in checks):
                t_answer = now
            time.sleep(0.02)
        return t_ready, t_answer

    def relist(self, api: str, checks: list[Probe], settle: float) -> Relist:
        """Expire every watch on the API server and measure kdns's re-list of every kind."""
        before = relists(self.metrics)
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS now
        sampler = Sampler(self.proc.pid)
        began = time.monotonic()
        http(f"{api}/debug/expire", "POST")

        def done() -> bool:
            now = relists(self.metrics)
            return all(now.get(k, 0) > before.get(k, 0) for k in KINDS[self.mode])

        while not done():
            if time.monotonic() - began > 600:
                raise RuntimeError("no re-list within 600s")
            self.snapshot(every=0.5)
            time.sleep(0.05)
        seconds = time.monotonic() - began
        time.sleep(1.0)
        sampled = sampler.stop()
        hwm = self.rss("VmHWM")
        for p in checks:
            if not p.ok(self.dns):
                raise RuntimeError(f"after the re-list {p.name} is not {p.want}")
        time.sleep(settle)
        return Relist(seconds, hwm, sampled, self.rss())

    def stop(self) -> None:
        """Terminate and reap."""
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def measure(mode: str, shape: Shape, api: str, tmp: Path, args: argparse.Namespace) -> Result:
    """Run kdns in `mode` against the API server: sync, settle, then the re-lists."""
    limits = f"apiserver_qps {args.qps}\n        apiserver_burst {args.qps}"
    kdns = Kdns(mode, tmp, args.profile, f"\n        {limits}" if args.qps else "")
    settle, count = args.settle, args.relists
    try:
        checks = probes(mode, shape)
        ready, answer = kdns.synced(checks)
        time.sleep(settle)
        steady = kdns.rss()
        kdns.snapshot(wait=True)
        done = [kdns.relist(api, checks, settle) for _ in range(count)]
        kdns.snapshot(wait=True)
        return Result(mode, ready, answer, steady, done, kdns.snapshots)
    finally:
        kdns.stop()


def report(shape: Shape, results: list[Result], command: str, judged: str) -> bool:
    """Print the figures against the targets; return whether every judged target was met.

    `judged` is "all", "ratio" (a reduced shape: the steady target scales, the baseline does
    not) or "none" (under tracemalloc, whose overhead is in every RSS figure).
    """
    print(f"\n{command}")
    print(
        f"cluster: {shape.nodes} nodes, {shape.services} services, {shape.endpoints} endpoints, "
        f"{shape.pods} pods ({shape.namespaces} namespaces)"
    )
    met = True
    for r in results:
        coredns = formula_mb(r.mode, shape)
        target = 0.6 * coredns
        ok_steady, ok_peak = r.steady <= target, r.peak <= 1.3 * r.steady
        met = met and (ok_peak or judged == "none") and (ok_steady or judged != "all")
        verdict = ("ok" if ok_steady else "MISSED") if judged == "all" else "not judged"
        ratio = ("ok" if ok_peak else "MISSED") if judged != "none" else "not judged"
        print(f"\npods {r.mode}:")
        print(
            f"  sync          /ready 200 after {r.ready:.1f}s, right answer after {r.answer:.1f}s"
        )
        print(
            f"  steady RSS    {r.steady:6.1f} MB   target <= {target:.1f} MB "
            f"(0.6 x CoreDNS's {coredns:.1f} MB)   {verdict}"
        )
        print(
            f"  re-list peak  {r.peak:6.1f} MB   {r.peak / r.steady:.2f} x steady, target <= 1.3 x "
            f"({1.3 * r.steady:.1f} MB)   {ratio}"
        )
        for n, x in enumerate(r.relists, 1):
            print(
                f"    re-list {n}: {x.seconds:5.1f}s, VmHWM {x.hwm:6.1f} MB (sampled VmRSS "
                f"{x.sampled:6.1f} MB), idle after {x.after:6.1f} MB"
            )
        if r.snapshots is not None:
            print_profile(r.snapshots)
    return met


def main() -> int:
    """Generate, serve, measure, report; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="a twentieth of the shape")
    size.add_argument("--scale", type=float, default=1.0, help="fraction of the shape")
    parser.add_argument("--modes", default="insecure,verified")
    parser.add_argument(
        "--settle", type=float, help="idle seconds before reading RSS (default 5, --small 2)"
    )
    parser.add_argument("--relists", type=int, default=2, help="forced re-lists (default 2)")
    parser.add_argument("--profile", action="store_true", help="run kdns under tracemalloc")
    parser.add_argument(
        "--qps", type=int, default=0, help="apiserver_qps and _burst (default: the client's 5/10)"
    )
    args = parser.parse_args()
    shape = Shape.scaled(0.05 if args.small else args.scale)
    if args.settle is None:
        args.settle = 2.0 if args.small else 5.0
    command = "python bench/k8s_scale.py " + " ".join(sys.argv[1:])
    results = []
    with tempfile.TemporaryDirectory(prefix="k8s-scale-") as name:
        tmp = Path(name)
        began = time.monotonic()
        write(tmp / "cluster.json", shape)
        print(f"manifest written in {time.monotonic() - began:.1f}s", flush=True)
        api, url = start_apiserver(tmp)
        try:
            for mode in args.modes.split(","):
                results.append(measure(mode, shape, url, tmp, args))
                print(f"pods {mode}: measured", flush=True)
        finally:
            api.terminate()
            api.wait(30)
            log = (tmp / "apiserver.log").read_text()
            if errors := log.count("Traceback"):
                print(f"the API server logged {errors} tracebacks; the last one:")
                print(log[log.rindex("Traceback") :][:2000])
        full = not args.small and args.scale == 1.0
        judged = "none" if args.profile else "all" if full else "ratio"
        met = report(shape, results, command, judged)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
