"""docs/ tells the truth: its metrics are those a running kdns exposes, its Corefiles pass
`kdns check`, its links lead somewhere, and the plugin index matches the plugin READMEs.

The exposed metric names come from scraping two real kdns processes, one single and one with
`--workers 2`, watching the project's API server and sent queries that touch every plugin
the Grafana dashboard and the alert rules look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import pkgutil
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import dns.exception
import pytest
import pytest_asyncio
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.plugins.metrics import REGISTRY
from kdns.plugins.testing import load_text
from kdns.runtime.testing import free_port, query, start_kdns

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
DASHBOARD = DOCS / "grafana" / "kdns-dashboard.json"
ALERTS = DOCS / "prometheus" / "kdns-alerts.yaml"
EXAMPLE = re.compile(r"^~~~ corefile\n(.*?)^~~~$", re.S | re.M)
METRIC = re.compile(r"\b(?:coredns|kdns|process|python)_[a-z0-9_]+\b")
#: Series Prometheus records itself for each target, not scraped from kdns.
PROMETHEUS_OWN = {"up"}
#: Labels Prometheus adds to every scraped series, and the histogram bucket label.
TARGET_LABELS = {"instance", "job", "le"}
shared_loop = pytest.mark.asyncio(loop_scope="module")

Exposed = dict[str, set[str]]  # sample name -> the label names seen on it


def corefile(port: int, upstream: int, ports: dict[str, int], kubeconfig: Path) -> str:
    """A Corefile with every plugin whose metrics the dashboard or the alerts use."""
    return f"""\
.:{port} {{
    errors
    health 127.0.0.1:{ports["health"]}
    ready 127.0.0.1:{ports["ready"]}
    prometheus 127.0.0.1:{ports["metrics"]}
    hosts {{
        10.0.0.1 a.test
        fallthrough
    }}
    kubernetes cluster.local 10.3.0.0/24 {{
        kubeconfig {kubeconfig}
    }}
    cache 30
    forward . 127.0.0.1:{upstream}
    reload 2s
}}
.:{upstream} {{
    whoami
}}
dead.test:{port} {{
    forward . 127.0.0.1:{ports["dead"]}
}}
"""


async def http_get(port: int, path: str) -> str:
    """GET 127.0.0.1:port/path and return the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: kdns\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.partition(b"\r\n\r\n")[2].decode()


async def scrape(port: int) -> Exposed:
    """Return every sample name /metrics serves, with its label names."""
    out: Exposed = {}
    for family in text_string_to_metric_families(await http_get(port, "/metrics")):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


async def until(check: object, seconds: float) -> None:
    """Wait until the coroutine function `check` returns true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def kdns(folder: Path, text: str, *args: str) -> AsyncIterator[int]:
    """Run `kdns -conf folder/Corefile ARGS` as its own process while the block runs; yield
    its process ID."""
    (folder / "Corefile").write_text(text)
    with (folder / "kdns.log").open("wb") as log:
        proc = await start_kdns("-conf", str(folder / "Corefile"), "-quiet", *args, stdout=log)
    try:
        yield proc.pid
    finally:
        proc.kill()
        await proc.wait()


async def exercise(folder: Path, kubeconfig: Path, *args: str, break_reload: bool) -> Exposed:
    """Start a kdns, ask it what the dashboard shows, and return what /metrics exposes."""
    port, upstream = free_port(), free_port()
    ports = {name: free_port() for name in ("health", "ready", "metrics", "dead")}
    text = corefile(port, upstream, ports, kubeconfig)
    async with kdns(folder, text, *args) as pid:

        async def ready() -> bool:
            try:
                return (await http_get(ports["ready"], "/ready")).strip() == "OK"
            except OSError:
                return False

        await until(ready, 20)
        names = ["kubernetes.default.svc.cluster.local", "a.test"]
        names += [f"www{n}.example.org" for n in range(3)]  # forwarded, on one connection
        for name in names:
            for _ in range(2):  # the second is a cache hit
                reply = await query(port, name)
                # whoami, behind forward, answers in the additional section
                assert reply.answer or reply.additional, name
        await query(port, "kube-dns.kube-system.svc.cluster.local", want_dnssec=True, tcp=True)
        await query(port, "missing.default.svc.cluster.local")
        await http_get(ports["health"], "/health")

        async def broken() -> bool:
            """Ask through an upstream that is down until forward finds every upstream down."""
            with contextlib.suppress(dns.exception.Timeout):
                await query(port, "www.dead.test", timeout=0.5)
            return "coredns_forward_healthcheck_broken_total" in await scrape(ports["metrics"])

        await until(broken, 10)
        if break_reload:
            (folder / "Corefile").write_text(text.replace("forward .", "forwrd ."))

            async def failed() -> bool:
                return "coredns_reload_failed_total" in await scrape(ports["metrics"])

            await until(failed, 10)
        if "--workers" in args:  # a worker that dies is started again, and counted
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            os.kill(int(children[0]), signal.SIGKILL)

            async def restarted() -> bool:
                return "kdns_worker_restarts_total" in await scrape(ports["metrics"])

            await until(restarted, 10)
        return await scrape(ports["metrics"])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def exposed(tmp_path_factory: pytest.TempPathFactory) -> Exposed:
    """The union of what a single kdns and a `--workers 2` kdns expose."""
    folder = tmp_path_factory.mktemp("metrics")
    async with ApiServer([ROOT / "examples" / "cluster.yaml"], poll_interval=0) as api:
        kubeconfig = write_kubeconfig(folder / "kubeconfig", api.url)
        (folder / "one").mkdir()
        (folder / "two").mkdir()
        one = await exercise(folder / "one", kubeconfig, break_reload=True)
        two = await exercise(folder / "two", kubeconfig, "--workers", "2", break_reload=False)
    for name, labels in two.items():
        one.setdefault(name, set()).update(labels)
    return one


def declared() -> set[str]:
    """Every metric family kdns's modules declare, by the name a scrape shows."""
    for package in ("kdns.plugins", "kdns.runtime"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    names = {"kdns_worker_requests_total"}  # declared on the supervisor's own registry
    for metric in REGISTRY:
        if metric.kind == "histogram":
            names.update(f"{metric.name}{end}" for end in ("_bucket", "_sum", "_count"))
        names.add(metric.name)
    return names


def exprs_of_dashboard() -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) for every query of the dashboard, its variables included."""
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["name"], variable["query"]["query"]


def exprs_of_alerts() -> Iterator[tuple[str, str]]:
    """(alert name, PromQL) for every rule of the alert file."""
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]


def labels_used(expr: str) -> set[str]:
    """The label names an expression groups by or selects on."""
    names: set[str] = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        names.update(n.strip() for n in group.split(",") if n.strip())
    for selector in re.findall(r"\{([^}]*)\}", expr):
        names.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
    for call in re.findall(r"label_values\([^,]+,\s*([a-zA-Z_]+)\)", expr):
        names.add(call)
    return names


def check_exprs(exprs: list[tuple[str, str]], exposed: Exposed) -> None:
    """Each expression names only exposed metrics, and only labels those metrics carry."""
    assert exprs
    for title, expr in exprs:
        metrics = set(METRIC.findall(expr)) | (PROMETHEUS_OWN & set(re.findall(r"\w+", expr)))
        assert metrics, f"{title}: no kdns metric in {expr!r}"
        missing = {m for m in metrics if m not in exposed and m not in PROMETHEUS_OWN}
        assert not missing, f"{title}: kdns does not expose {sorted(missing)}"
        carried = set().union(*(exposed.get(m, set()) for m in metrics)) | TARGET_LABELS
        unknown = labels_used(expr) - carried
        assert not unknown, f"{title}: {sorted(unknown)} is no label of {sorted(metrics)}"


@shared_loop
async def test_dashboard_uses_only_exposed_metrics(exposed: Exposed) -> None:
    """Every panel and variable of the Grafana dashboard queries what kdns serves."""
    check_exprs(list(exprs_of_dashboard()), exposed)


@shared_loop
async def test_alerts_use_only_exposed_metrics(exposed: Exposed) -> None:
    """Every alert rule queries what kdns serves."""
    check_exprs(list(exprs_of_alerts()), exposed)


def test_dashboard_is_a_grafana_dashboard() -> None:
    """The JSON has what Grafana's import needs: unique panel IDs and grid positions, a
    Prometheus data source variable that every query uses, and no overlapping panels."""
    dashboard = json.loads(DASHBOARD.read_text())
    assert {"title", "uid", "panels", "schemaVersion", "templating"} <= set(dashboard)
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(grid["y"] + r, grid["x"] + c) for r in range(grid["h"]) for c in range(grid["w"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_alert_rules_have_prometheus_shape() -> None:
    """Each rule has a name, an expression, a severity and a summary; names are unique."""
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]


@shared_loop
async def test_operations_names_every_declared_metric_and_no_other(exposed: Exposed) -> None:
    """docs/operations.md lists every metric kdns declares, and nothing kdns lacks
    (`python_gc_*` stands for the names it begins)."""
    text = (DOCS / "operations.md").read_text()
    named = set(METRIC.findall(text))
    known = declared()
    prefixes = {n for n in named if n.endswith("_")}
    assert all(any(k.startswith(p) for k in exposed) for p in prefixes), prefixes
    unknown = named - prefixes - known - set(exposed)
    assert not unknown, sorted(unknown)
    families = {n for n in known if not n.endswith(("_bucket", "_sum", "_count"))}
    assert not families - named, f"undocumented: {sorted(families - named)}"


DOC_FILES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("path", DOC_FILES, ids=[p.name for p in DOC_FILES])
def test_doc_corefiles_pass_check(path: Path) -> None:
    """Every `~~~ corefile` block of a doc page loads without error."""
    for example in EXAMPLE.findall(path.read_text()):
        load_text(example, path=f"docs/{path.name}")


@pytest.mark.parametrize("path", DOC_FILES, ids=[p.name for p in DOC_FILES])
def test_doc_links_lead_somewhere(path: Path) -> None:
    """Relative links of a doc page point at files of the repository."""
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if "://" not in target:
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_plugin_index_is_up_to_date() -> None:
    """docs/plugins.md is what docs/build_plugin_pages.py makes of the plugin READMEs now."""
    built = subprocess.run(
        [sys.executable, str(DOCS / "build_plugin_pages.py"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert built == (DOCS / "plugins.md").read_text(), (
        "docs/plugins.md is stale: run python docs/build_plugin_pages.py"
    )


def test_plugin_index_lists_every_plugin() -> None:
    """Each plugin folder with a README has a line in the index, linking to that README."""
    index = (DOCS / "plugins.md").read_text()
    for readme in sorted((ROOT / "plugins").glob("*/README.md")):
        name = readme.parent.name
        assert f"[{name}](../plugins/{name}/README.md)" in index, name


def test_departures_in_index_come_from_bugs_sections() -> None:
    """The index quotes each README's Bugs section, so the migration guide's list is whole."""
    index = (DOCS / "plugins.md").read_text()
    kubernetes = (ROOT / "plugins" / "kubernetes" / "README.md").read_text()
    bugs = kubernetes.split("## Bugs\n", 1)[1].split("\n## ", 1)[0].strip()
    assert bugs in index


@pytest.mark.parametrize("expr", ['sum by (type) (rate(x_total{rcode="A"}[5m]))'])
def test_labels_used_reads_groupings_and_selectors(expr: str) -> None:
    """The label reader the checks rely on sees both `by (...)` and `{label=...}`."""
    assert labels_used(expr) == {"type", "rcode"}
