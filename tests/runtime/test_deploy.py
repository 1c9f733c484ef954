"""`kdns deploy`: valid manifests for several option sets, RBAC that follows the Corefile, a
checked Corefile, the cluster IP from the API, and an end-to-end run against the project's API
server whose generated Corefile answers the seed's queries."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.rcode
import kubernetes_validate
import pytest
import yaml

from kdns.corefile import loads
from kdns.plugins import default_registry
from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime import manifests
from kdns.runtime.cli import main
from kdns.runtime.testing import free_port, query, start_kdns

from .test_deploy_apply import on_free_ports, until_answered

ROOT = Path(__file__).parents[2]
CLUSTER = ROOT / "examples" / "cluster.yaml"
#: The newest Kubernetes schema kubernetes-validate ships (it reads them from its package).
K8S_VERSION = kubernetes_validate.latest_version()

AUTOPATH = """\
.:53 {
    errors
    health :8091 {
        lameduck 40s
    }
    autopath @kubernetes
    kubernetes cluster.local clusterset.local in-addr.arpa ip6.arpa {
        pods insecure
        multicluster clusterset.local
    }
    forward . 1.1.1.1
}
"""
NO_KUBERNETES = ".:5300 {\n    forward . 9.9.9.9\n    cache\n}\n"


@pytest.fixture(autouse=True)
def no_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No API to be found unless a test gives one: not in a cluster, no kubeconfig."""
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def deploy(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `kdns deploy ARGS` in this process; return (exit code, stdout, stderr)."""
    code = main(["deploy", *args])
    out, err = capsys.readouterr()
    return code, out, err


def documents(text: str) -> list[dict[str, Any]]:
    """Parse the printed YAML stream into its objects."""
    return [d for d in yaml.safe_load_all(text) if d is not None]


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Index the objects by kind (each kind is printed once)."""
    kinds = [d["kind"] for d in docs]
    assert len(kinds) == len(set(kinds)), kinds
    return {d["kind"]: d for d in docs}


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Fail any network connection made inside the block."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("kubernetes-validate tried to use the network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        yield


def write(tmp_path: Path, text: str) -> str:
    """Write a custom Corefile and return its path."""
    path = tmp_path / "Corefile"
    path.write_text(text)
    return str(path)


OPTION_SETS: dict[str, tuple[str, ...]] = {
    "seed": ("10.3.0.0/24", "cluster.local", "--cluster-ip", "10.3.0.10"),
    "verified": (
        "10.96.0.0/12",
        "example.internal",
        "--pods",
        "verified",
        "--replicas",
        "3",
        "--image",
        "registry.example/kdns:1.0",
        "--namespace",
        "dns",
        "--upstream",
        "8.8.8.8",
        "--upstream",
        "tls://1.1.1.1",
    ),
    "dual-stack, no service, another name": (
        "10.96.0.0/16,fd00:10:96::/112",
        "--pods",
        "disabled",
        "--no-service",
        "--name",
        "kdns",
        "--services",
        "500",
        "--pod-count",
        "3000",
    ),
    "custom autopath multicluster": ("10.3.0.0/24", "--corefile", "AUTOPATH"),
    "custom without kubernetes": ("10.3.0.0/24", "--corefile", "NO_KUBERNETES"),
}


@pytest.mark.parametrize("case", OPTION_SETS)
def test_every_manifest_passes_kubernetes_validate(
    case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Each printed object validates (strict: no unknown field) against the newest schema."""
    texts = {"AUTOPATH": AUTOPATH, "NO_KUBERNETES": NO_KUBERNETES}
    args = [write(tmp_path, texts[a]) if a in texts else a for a in OPTION_SETS[case]]
    code, out, err = deploy(capsys, *args)
    assert code == 0, err
    docs = documents(out)
    with offline():
        for doc in docs:
            assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == K8S_VERSION[:4]
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "ConfigMap"
    assert {"ServiceAccount", "Deployment", "PodDisruptionBudget"} <= set(kinds)
    assert ("Service" in kinds) == ("--no-service" not in args)
    assert ("ClusterRole" in kinds) == (case != "custom without kubernetes")
    for doc in docs:  # an addon manager would prune objects with these (the seed's footnote)
        labels = doc["metadata"]["labels"]
        assert "addonmanager.kubernetes.io/mode" not in labels
        assert "kubernetes.io/cluster-service" not in labels


def test_the_validator_rejects_a_broken_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    """The check above can fail: a wrong type and an unknown field are caught."""
    _, out, _ = deploy(capsys, *OPTION_SETS["seed"])
    deployment = by_kind(documents(out))["Deployment"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_seed_set(capsys: pytest.CaptureFixture[str]) -> None:
    """The default Corefile is kubeadm's shape with the CIDR; the objects follow it."""
    code, out, err = deploy(capsys, *OPTION_SETS["seed"])
    assert (code, err) == (0, "")
    objs = by_kind(documents(out))
    corefile = objs["ConfigMap"]["data"]["Corefile"]
    assert "kubernetes cluster.local 10.3.0.0/24 in-addr.arpa ip6.arpa {" in corefile
    assert "pods insecure" in corefile
    assert "forward . /etc/resolv.conf {" in corefile
    assert "lameduck 5s" in corefile
    service = objs["Service"]
    assert service["metadata"]["name"] == "kube-dns"
    assert service["metadata"]["namespace"] == "kube-system"
    assert service["spec"]["clusterIP"] == "10.3.0.10"
    assert service["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert [(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]] == [
        ("dns", 53, "UDP"),
        ("dns-tcp", 53, "TCP"),
        ("metrics", 9153, "TCP"),
    ]
    spec = objs["Deployment"]["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 1}
    pod = spec["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in pod["tolerations"]
    (container,) = pod["containers"]
    assert container["args"] == ["-conf", "/etc/coredns/Corefile"]
    assert container["livenessProbe"]["httpGet"]["port"] == 8080
    assert container["readinessProbe"]["httpGet"]["port"] == 8181
    assert container["securityContext"]["capabilities"] == {
        "drop": ["ALL"],
        "add": ["NET_BIND_SERVICE"],
    }
    budget = objs["PodDisruptionBudget"]["spec"]
    assert budget["maxUnavailable"] == 1
    # The budget covers kdns's pods only; the Deployment selects as kubeadm's CoreDNS does.
    assert budget["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def rules_for(corefile: str) -> set[tuple[str, str]]:
    """Return the (group, resource) pairs the ClusterRole would grant for a Corefile."""
    model = loads(corefile, default_registry())
    return set(manifests.needs(model).resources)


BASE = {("", "namespaces"), ("", "services"), ("discovery.k8s.io", "endpointslices")}


@pytest.mark.parametrize(
    ("corefile", "expected"),
    [
        (".:53 {\n    kubernetes cluster.local\n}\n", BASE),
        (".:53 {\n    kubernetes cluster.local {\n        pods insecure\n    }\n}\n", BASE),
        (
            ".:53 {\n    kubernetes cluster.local {\n        pods verified\n    }\n}\n",
            BASE | {("", "pods")},
        ),
        (
            ".:53 {\n    autopath @kubernetes\n    kubernetes cluster.local\n}\n",
            BASE | {("", "pods")},
        ),
        (
            ".:53 {\n    kubernetes cluster.local {\n        noendpoints\n    }\n}\n",
            {("", "namespaces"), ("", "services")},
        ),
        (
            ".:53 {\n    kubernetes cluster.local clusterset.local {\n"
            "        multicluster clusterset.local\n    }\n}\n",
            BASE | {("multicluster.x-k8s.io", "serviceimports")},
        ),
        (NO_KUBERNETES, set()),
    ],
    ids=["default", "insecure", "verified", "autopath", "noendpoints", "multicluster", "none"],
)
def test_rbac_follows_the_corefile(corefile: str, expected: set[tuple[str, str]]) -> None:
    """The ClusterRole grants what the plugin watches; pods only for verified or autopath."""
    assert rules_for(corefile) == expected


@pytest.mark.parametrize(
    ("mode", "has_pods"), [("disabled", False), ("insecure", False), ("verified", True)]
)
def test_printed_cluster_role(
    capsys: pytest.CaptureFixture[str], mode: str, has_pods: bool
) -> None:
    """Printed rules: list and watch only, pods only with `--pods verified`."""
    _, out, _ = deploy(capsys, "10.3.0.0/24", "--cluster-ip", "10.3.0.10", "--pods", mode)
    rules = by_kind(documents(out))["ClusterRole"]["rules"]
    assert all(r["verbs"] == ["list", "watch"] for r in rules)
    core = next(r for r in rules if r["apiGroups"] == [""])
    assert ("pods" in core["resources"]) == has_pods


def test_no_kubernetes_means_no_api_access(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without the kubernetes plugin there is no role and the pod gets no token; probes and
    the metrics port follow the Corefile (none here), the DNS port is the block's."""
    code, out, _ = deploy(capsys, "10.3.0.0/24", "--corefile", write(tmp_path, NO_KUBERNETES))
    assert code == 0
    objs = by_kind(documents(out))
    assert objs["ServiceAccount"]["automountServiceAccountToken"] is False
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "livenessProbe" not in container
    assert "readinessProbe" not in container
    assert [p["containerPort"] for p in container["ports"]] == [5300, 5300]
    assert [p["targetPort"] for p in objs["Service"]["spec"]["ports"]] == [5300, 5300]


def test_lameduck_sets_the_grace_period(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A 40 s lameduck: the pod gets longer than that to stop, liveness waits longer too."""
    _, out, _ = deploy(capsys, "10.3.0.0/24", "--corefile", write(tmp_path, AUTOPATH))
    pod = by_kind(documents(out))["Deployment"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 50
    probe = pod["containers"][0]["livenessProbe"]
    assert probe["httpGet"]["port"] == 8091
    assert probe["periodSeconds"] * probe["failureThreshold"] > 40


def test_the_custom_corefile_is_shipped_as_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--corefile FILE: the ConfigMap holds the file's text, byte for byte."""
    _, out, _ = deploy(capsys, "10.3.0.0/24", "--corefile", write(tmp_path, AUTOPATH))
    assert by_kind(documents(out))["ConfigMap"]["data"]["Corefile"] == AUTOPATH


def test_an_invalid_corefile_prints_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A Corefile `kdns check` rejects: exit 1, file:line:col on stderr, stdout empty."""
    path = write(tmp_path, ".:53 {\n    errors\n    forwrd . 8.8.8.8\n}\n")
    code, out, err = deploy(capsys, "10.3.0.0/24", "--corefile", path, "--cluster-ip", "10.3.0.10")
    assert (code, out) == (1, "")
    assert f"{path}:3:5: error" in err
    assert "did you mean 'forward'" in err


def test_a_bad_upstream_is_caught_before_printing(capsys: pytest.CaptureFixture[str]) -> None:
    """The generated Corefile is checked too: a bad --upstream fails with its position."""
    code, out, err = deploy(
        capsys, "10.3.0.0/24", "--cluster-ip", "10.3.0.10", "--upstream", "8.8.8.8:99999"
    )
    assert (code, out) == (1, "")
    assert "<generated Corefile>:13:15: error: plugin/forward: port '99999'" in err


def test_without_an_api_the_tenth_address_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing to ask (no --server, kubeconfig or cluster): 10th address, and a warning."""
    code, out, err = deploy(capsys, "10.3.0.0/24")
    assert code == 0
    assert by_kind(documents(out))["Service"]["spec"]["clusterIP"] == "10.3.0.10"
    assert "warning: cluster IP not looked up" in err
    assert "10.3.0.10" in err


def test_an_unreachable_server_falls_back_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--server where nothing listens: the lookup fails quickly and says why."""
    port = free_port()
    code, out, err = deploy(capsys, "10.96.0.0/12", "--server", f"http://127.0.0.1:{port}")
    assert code == 0
    assert by_kind(documents(out))["Service"]["spec"]["clusterIP"] == "10.96.0.10"
    assert f"cannot reach the API at http://127.0.0.1:{port}" in err


async def test_the_cluster_ip_is_looked_up_like_kubectl(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$KUBECONFIG (the seed's "kubectl pointing to a cluster") finds the API and the
    Service's own IP is used (not the 10th address); a namespace without kube-dns falls back
    and says so."""
    async with ApiServer([CLUSTER], poll_interval=0) as api:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", api.url)))
        code = await asyncio.to_thread(main, ["deploy", "10.3.0.0/24"])
        out, err = capsys.readouterr()
        assert (code, err) == (0, "")
        assert by_kind(documents(out))["Service"]["spec"]["clusterIP"] == "10.3.0.10"
        api.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kube-dns", "namespace": "dns"},
                "spec": {"clusterIP": "10.3.0.53", "ports": [{"port": 53, "protocol": "UDP"}]},
            }
        )
        code = await asyncio.to_thread(main, ["deploy", "10.3.0.0/24", "--namespace", "dns"])
        out, err = capsys.readouterr()
        assert (code, err) == (0, "")
        assert by_kind(documents(out))["Service"]["spec"]["clusterIP"] == "10.3.0.53"
        code = await asyncio.to_thread(main, ["deploy", "10.7.0.0/24", "--namespace", "other"])
        out, err = capsys.readouterr()
        assert code == 0
        assert by_kind(documents(out))["Service"]["spec"]["clusterIP"] == "10.7.0.10"
        assert "there is no Service other/kube-dns" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("10.3.0.1/24",), "has host bits set"),
        (("nonsense",), "is not a network"),
        (("10.3.0.0/24", "--cluster-ip", "10.3.0.300"), "is not an IP address"),
        (("10.3.0.0/24", "--replicas", "0"), "at least 1"),
    ],
)
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    """Bad command lines exit 2 with the reason and print nothing."""
    code, out, err = deploy(capsys, *args)
    assert (code, out) == (2, "")
    assert message in err


def test_memory_covers_the_measured_figures() -> None:
    """Requests cover the measured steady RSS of the 5,000-node shape (126 MB insecure, 172 MB
    verified); limits cover the measured re-list peaks (1.08x and 1.18x)."""
    options = manifests.DeployOptions(cluster_ip="10.3.0.10")
    insecure = manifests.memory_mib(options, verified=False)
    verified = manifests.memory_mib(options, verified=True)
    assert insecure[0] >= 126
    assert insecure[1] >= 126 * 1.08
    assert verified[0] >= 172
    assert verified[1] >= 172 * 1.18
    small = manifests.memory_mib(
        manifests.DeployOptions("10.3.0.10", services=100, pods=1000), False
    )
    assert 80 <= small[0] < insecure[0]


async def test_end_to_end_with_the_project_api_server(tmp_path: Path) -> None:
    """`kdns deploy --server URL` reads kube-dns's cluster IP from the API; `kdns serve` with
    the ConfigMap's Corefile (pointed at the API and free ports) answers the seed's queries."""
    async with ApiServer([CLUSTER], poll_interval=0) as api:
        in_api = api.cluster.get("services", "kube-system", "kube-dns").obj["spec"]["clusterIP"]
        proc = await start_kdns(
            "deploy",
            "10.3.0.0/24",
            "cluster.local",
            "--server",
            api.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert err == b""  # looked up, no fallback warning
        objs = by_kind(documents(out.decode()))
        assert objs["Service"]["spec"]["clusterIP"] == in_api == "10.3.0.10"

        corefile, dns_port = on_free_ports(objs["ConfigMap"]["data"]["Corefile"])
        old = "        pods insecure\n"
        assert old in corefile
        corefile = corefile.replace(old, f"{old}        endpoint {api.url}\n", 1)
        path = tmp_path / "Corefile"
        path.write_text(corefile)
        server = await start_kdns(
            "serve",
            "-conf",
            str(path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            answer = await until_answered(dns_port, "kubernetes.default.svc.cluster.local.")
            assert answer == ["10.3.0.1"]
            reply = await query(dns_port, "kube-dns.kube-system.svc.cluster.local.")
            assert [r.address for rrset in reply.answer for r in rrset] == [in_api]
            for ip, name in (
                ("10.3.0.1", "kubernetes.default.svc.cluster.local."),
                (in_api, "kube-dns.kube-system.svc.cluster.local."),
            ):
                rev = ipaddress.ip_address(ip).reverse_pointer
                reply = await query(dns_port, rev, "PTR")
                assert reply.rcode() == dns.rcode.NOERROR
                assert [str(r.target) for rrset in reply.answer for r in rrset] == [name]
        finally:
            server.terminate()
            await server.wait()
