"""`kdns deploy ... | kubectl apply -f -` for real, against the project's API server: kubectl's
default (strict) validation, the patch of the existing kube-dns Service, `kubectl get` tables,
the Corefile read back from the ConfigMap and served, and a live change with `kubectl patch`.

The API server only stores these objects: no controller runs the Deployment, no kubelet
projects the ConfigMap into a pod's file. kdns is started here as a process on the Corefile
kubectl reads back.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import json
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import dns.exception
import dns.rcode
import pytest
import yaml

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.plugins.kubernetes.apiserver.patch import strategic_merge
from kdns.runtime.cli import main
from kdns.runtime.testing import free_port, query, start_kdns

CLUSTER = Path(__file__).parents[2] / "examples" / "cluster.yaml"
KUBECTL = shutil.which("kubectl") or "kubectl"
DEPLOY = f"{shlex.quote(sys.executable)} -m kdns.runtime deploy 10.3.0.0/24 cluster.local"
#: What `kubectl apply` prints for the seed's set: the kube-dns Service already exists.
APPLIED = [
    "configmap/coredns created",
    "serviceaccount/coredns created",
    "clusterrole.rbac.authorization.k8s.io/system:coredns created",
    "clusterrolebinding.rbac.authorization.k8s.io/system:coredns created",
    "deployment.apps/coredns created",
    "service/kube-dns configured",
    "poddisruptionbudget.policy/coredns created",
]


class Shell:
    """Runs commands the way a user would, with KUBECONFIG pointing at the API server."""

    def __init__(self, tmp_path: Path, kubeconfig: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        self.env = {**env, "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
        self.cache = str(tmp_path / "kube-cache")

    async def run(self, command: str, ok: bool = True) -> tuple[int, str, str]:
        """Run a bash command line (pipefail); return (exit code, stdout, stderr)."""
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-o",
            "pipefail",
            "-c",
            command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        code = proc.returncode
        assert code is not None
        if ok:
            assert code == 0, err.decode()
        return code, out.decode(), err.decode()

    async def kubectl(self, *args: str, ok: bool = True) -> tuple[int, str, str]:
        """Run kubectl with the arguments."""
        line = shlex.join([KUBECTL, "--cache-dir", self.cache, *args])
        return await self.run(line, ok)


@pytest.fixture
async def cluster(tmp_path: Path) -> Any:
    """The seed's cluster served, and a shell whose kubectl and kdns find it."""
    async with ApiServer([CLUSTER], poll_interval=0) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        yield api, Shell(tmp_path, kubeconfig)


def sections(text: str) -> dict[str, list[list[str]]]:
    """Split `kubectl get a,b,c` output into its tables, keyed by the first row's resource."""
    tables: dict[str, list[list[str]]] = {}
    for block in text.strip().split("\n\n"):
        rows = [line.split() for line in block.splitlines()]
        tables[rows[1][0].split("/")[0]] = rows
    return tables


def on_free_ports(corefile: str) -> tuple[str, int]:
    """The ConfigMap's Corefile with port 53, health, ready and metrics moved to free ports
    (kdns runs as a process here, not as root in a pod); the kubernetes block is unchanged: the
    plugin finds the API through $KUBECONFIG, as kubectl does, when not in a cluster."""
    dns_port, health, ready, metrics = (free_port() for _ in range(4))
    for old, new in (
        (".:53 {", f".:{dns_port} {{"),
        ("health {", f"health :{health} {{"),
        ("    ready\n", f"    ready :{ready}\n"),
        ("prometheus :9153", f"prometheus :{metrics}"),
    ):
        assert old in corefile
        corefile = corefile.replace(old, new, 1)
    return corefile, dns_port


async def until_answered(port: int, name: str, seconds: float = 20.0) -> list[str]:
    """Ask until the server answers with records (it syncs with the API first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            reply = await query(port, name, timeout=0.5)
            if reply.answer:
                return [r.address for rrset in reply.answer for r in rrset]
        except (TimeoutError, OSError, dns.exception.Timeout):
            pass
        assert loop.time() < deadline, f"no answer for {name} within {seconds} s"
        await asyncio.sleep(0.1)


async def test_deploy_piped_into_kubectl_apply(cluster: Any, tmp_path: Path) -> None:
    """The seed's `./deploy.sh 10.3.0.0/24 cluster.local | kubectl apply -f -`, with kdns and
    kubectl's default validation; then get, the Corefile served, and a live change."""
    api, sh = cluster
    saved = tmp_path / "kdns.yaml"
    _, out, err = await sh.run(
        f"{DEPLOY} | tee {saved} | {shlex.quote(KUBECTL)} --cache-dir {sh.cache} apply -f -"
    )
    printed = saved.read_text()
    assert out.splitlines() == APPLIED
    # The kubeadm-made Service had no last-applied annotation; kubectl says so, as on a cluster.
    assert "services/kube-dns is missing the kubectl.kubernetes.io/last-applied" in err
    service = api.get("svc", "kube-system", "kube-dns")
    assert service["spec"]["clusterIP"] == "10.3.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]] == [
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
        ("metrics", 9153, "TCP"),
    ]
    annotations = service["metadata"]["annotations"]
    applied = json.loads(annotations["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["clusterIP"] == "10.3.0.10"
    assert annotations["prometheus.io/port"] == "9153"
    # Labels the manifest does not mention stay (a strategic merge, not a replace).
    assert service["metadata"]["labels"]["kubernetes.io/cluster-service"] == "true"

    _, again, _ = await sh.kubectl("apply", "-f", str(saved))
    # kubectl always sends a PDB's selector (its patch strategy is "replace"), so "configured".
    assert again.splitlines() == [
        line.replace("created", "unchanged").replace("configured", "unchanged")
        for line in APPLIED[:-1]
    ] + ["poddisruptionbudget.policy/coredns configured"]

    _, got, _ = await sh.kubectl("get", "deploy,cm,svc,pdb", "-n", "kube-system")
    tables = sections(got)
    assert tables["deployment.apps"][0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert tables["deployment.apps"][1][:4] == ["deployment.apps/coredns", "0/2", "0", "0"]
    assert tables["configmap"][1][:2] == ["configmap/coredns", "1"]
    assert tables["service"][1][:5] == [
        "service/kube-dns",
        "ClusterIP",
        "10.3.0.10",
        "<none>",
        "53/UDP,53/TCP,9153/TCP",
    ]
    assert tables["poddisruptionbudget.policy"][0][1:3] == ["MIN", "AVAILABLE"]
    assert tables["poddisruptionbudget.policy"][1][:4] == [
        "poddisruptionbudget.policy/coredns",
        "N/A",
        "1",
        "0",
    ]
    _, rbac, _ = await sh.kubectl("get", "clusterrolebinding", "system:coredns", "-o", "wide")
    assert rbac.splitlines()[1].split()[1:2] == ["ClusterRole/system:coredns"]
    assert rbac.splitlines()[1].split()[-1] == "kube-system/coredns"

    _, corefile, _ = await sh.kubectl(
        "get", "configmap", "coredns", "-n", "kube-system", "-o", "jsonpath={.data.Corefile}"
    )
    shipped = next(d for d in yaml.safe_load_all(printed) if d and d["kind"] == "ConfigMap")
    assert corefile == shipped["data"]["Corefile"]

    text, port = on_free_ports(corefile)
    path = tmp_path / "Corefile"
    path.write_text(text)
    server = await start_kdns(
        "serve",
        "-conf",
        str(path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=sh.env,
    )
    try:
        assert await until_answered(port, "kubernetes.default.svc.cluster.local.") == ["10.3.0.1"]
        reply = await query(port, "kube-dns.kube-system.svc.cluster.local.")
        assert [r.address for rrset in reply.answer for r in rrset] == ["10.3.0.10"]
        for ip, name in (
            ("10.3.0.1", "kubernetes.default.svc.cluster.local."),
            ("10.3.0.10", "kube-dns.kube-system.svc.cluster.local."),
        ):
            reply = await query(port, ipaddress.ip_address(ip).reverse_pointer, "PTR")
            assert reply.rcode() == dns.rcode.NOERROR
            assert [str(r.target) for rrset in reply.answer for r in rrset] == [name]
    finally:
        server.kill()  # no lameduck wait: shutdown is not what this tests
        await server.wait()

    # `kubectl edit`, scripted: the new Corefile is in the API at once (no kubelet here copies it
    # into a pod's file; in a cluster that takes up to a minute, then `reload` picks it up).
    edited = corefile.replace("    errors\n", "    errors\n    log\n", 1)
    patch = json.dumps({"data": {"Corefile": edited}})
    _, out, _ = await sh.kubectl(
        "patch", "configmap", "coredns", "-n", "kube-system", "--type", "merge", "-p", patch
    )
    assert out.strip() == "configmap/coredns patched"
    _, now, _ = await sh.kubectl(
        "get", "configmap", "coredns", "-n", "kube-system", "-o", "jsonpath={.data.Corefile}"
    )
    assert now == edited
    # `kubectl edit` itself, with sed as the editor: a strategic merge patch of the Deployment.
    editor = shlex.quote("sed -i 's/replicas: 2/replicas: 3/'")
    kubectl = shlex.join([KUBECTL, "--cache-dir", sh.cache])
    _, out, _ = await sh.run(f"KUBE_EDITOR={editor} {kubectl} -n kube-system edit deploy coredns")
    assert out.strip() == "deployment.apps/coredns edited"
    deployment = api.get("deploy", "kube-system", "coredns")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["name"] == "coredns"


def printed_manifests(tmp_path: Path, edit: tuple[str, str] = ("", "")) -> Path:
    """`kdns deploy 10.3.0.0/24 cluster.local --cluster-ip 10.3.0.10` (run in this process,
    quicker than a new interpreter), written to a file with one text replacement."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["deploy", "10.3.0.0/24", "cluster.local", "--cluster-ip", "10.3.0.10"]) == 0
    path = tmp_path / "kdns.yaml"
    path.write_text(out.getvalue().replace(*edit) if edit[0] else out.getvalue())
    return path


async def test_strict_validation_rejects_a_typo(cluster: Any, tmp_path: Path) -> None:
    """kubectl's default `--validate=strict` is done by the server: an unknown field is a 400
    worded as Kubernetes words it, and nothing of that object is stored."""
    api, sh = cluster
    typo = printed_manifests(tmp_path, ("livenessProbe:", "livenessprobe:"))
    code, out, err = await sh.kubectl("apply", "-f", str(typo), ok=False)
    assert code == 1
    assert (
        f'Error from server (BadRequest): error when creating "{typo}": Deployment in version "v1" '
        "cannot be handled as a Deployment: strict decoding error: unknown field "
        '"spec.template.spec.containers[0].livenessprobe"'
    ) in err
    assert "deployment.apps/coredns" not in out
    assert "configmap/coredns created" in out
    assert api.get("deploy", "kube-system", "coredns") is None


async def test_server_side_apply(cluster: Any, tmp_path: Path) -> None:
    """`kubectl apply --server-side` creates what is missing and merges into kube-dns."""
    api, sh = cluster
    _, out, _ = await sh.kubectl("apply", "--server-side", "-f", str(printed_manifests(tmp_path)))
    assert [x.rsplit(" ", 1)[1] for x in out.splitlines()] == ["serverside-applied"] * 7
    assert api.get("svc", "kube-system", "kube-dns")["spec"]["clusterIP"] == "10.3.0.10"
    assert api.get("deploy", "kube-system", "coredns")["spec"]["replicas"] == 2


PORTS = [
    {"name": "dns", "port": 53, "protocol": "UDP"},
    {"name": "metrics", "port": 9153, "protocol": "TCP"},
]


@pytest.mark.parametrize(
    ("kind", "current", "patch", "expected"),
    [
        (  # lists with a merge key merge; $setElementOrder orders them
            "Service",
            {"spec": {"ports": PORTS, "clusterIP": "10.3.0.10"}},
            {
                "spec": {
                    "$setElementOrder/ports": [{"port": 9153}, {"port": 53}],
                    "ports": [{"port": 53, "name": "dns-udp"}],
                }
            },
            {
                "spec": {
                    "ports": [PORTS[1], {**PORTS[0], "name": "dns-udp"}],
                    "clusterIP": "10.3.0.10",
                }
            },
        ),
        (  # $patch: delete removes one element; null removes a key
            "Service",
            {"spec": {"ports": PORTS, "type": "ClusterIP"}},
            {"spec": {"ports": [{"port": 53, "$patch": "delete"}], "type": None}},
            {"spec": {"ports": [PORTS[1]]}},
        ),
        (  # lists without a patch strategy are replaced
            "ClusterRole",
            {"rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]},
            {"rules": [{"verbs": ["watch"]}]},
            {"rules": [{"verbs": ["watch"]}]},
        ),
        (  # container env merges by name inside the pod template; finalizers are a set
            "Deployment",
            {
                "metadata": {"finalizers": ["a"]},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "c", "env": [{"name": "A", "value": "1"}]},
                                {"name": "d"},
                            ]
                        }
                    }
                },
            },
            {
                "metadata": {"finalizers": ["b", "a"]},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "c", "env": [{"name": "B", "value": "2"}]}]
                        }
                    }
                },
            },
            {
                "metadata": {"finalizers": ["a", "b"]},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "c",
                                    "env": [
                                        {"name": "A", "value": "1"},
                                        {"name": "B", "value": "2"},
                                    ],
                                },
                                {"name": "d"},
                            ]
                        }
                    }
                },
            },
        ),
        (  # $retainKeys drops the other keys; $patch: replace replaces a map
            "Deployment",
            {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
            {
                "spec": {
                    "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                    "selector": {"$patch": "replace", "matchLabels": {"a": "b"}},
                }
            },
            {"spec": {"strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"a": "b"}}}},
        ),
        (  # $deleteFromPrimitiveList
            "Pod",
            {"metadata": {"finalizers": ["a", "b", "c"]}},
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
            {"metadata": {"finalizers": ["a", "c"]}},
        ),
    ],
    ids=[
        "merge-and-order",
        "delete-element",
        "atomic-list",
        "nested",
        "retain-replace",
        "primitive",
    ],
)
def test_strategic_merge_patch(
    kind: str, current: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    """The directives kubectl writes into a strategic merge patch, per the served kinds' keys."""
    assert strategic_merge(current, patch, kind) == expected
