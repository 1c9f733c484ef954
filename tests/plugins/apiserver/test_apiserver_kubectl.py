"""The real kubectl against the server: discovery, Table output, JSON, watch, kubeconfig."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (PATH)")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment where kubectl sees no user config and caches under tmp_path."""
    return {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}


async def kubectl(env: dict[str, str], tmp_path: Path, *args: str) -> str:
    assert KUBECTL is not None
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--cache-dir",
        str(tmp_path / "cache"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def table(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


async def test_get_services_all_namespaces(
    server: ApiServer, env: dict[str, str], tmp_path: Path
) -> None:
    """`kubectl --server URL get svc -A` prints the seed's services as a real cluster would."""
    rows = table(await kubectl(env, tmp_path, "--server", server.url, "get", "svc", "-A"))
    assert rows[0] == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    by_name = {r[1]: r for r in rows[1:]}
    assert by_name["kube-dns"][:6] == [
        "kube-system",
        "kube-dns",
        "ClusterIP",
        "10.3.0.10",
        "<none>",
        "53/UDP,53/TCP",
    ]
    assert by_name["kubernetes"][3] == "10.3.0.1"
    assert by_name["web"][3] == "None"
    assert by_name["search"][2:5] == ["ExternalName", "<none>", "www.example.com"]


async def test_get_endpointslices_as_json(
    server: ApiServer, env: dict[str, str], tmp_path: Path
) -> None:
    """`get endpointslices -A -o json` returns the derived slices with hostnames."""
    out = await kubectl(
        env, tmp_path, "--server", server.url, "get", "endpointslices", "-A", "-o", "json"
    )
    items = json.loads(out)["items"]
    web = [s for s in items if s["metadata"]["labels"].get("kubernetes.io/service-name") == "web"]
    assert sorted(ep["hostname"] for ep in web[0]["endpoints"]) == ["web-0", "web-1"]
    assert len(items) == 6


async def test_get_serviceimports_all_namespaces(
    server: ApiServer, env: dict[str, str], tmp_path: Path
) -> None:
    """`kubectl get serviceimports -A` finds the MCS group by discovery and prints the imports;
    the short name and `-o json` work too."""
    for name, spec in (
        ("web", {"type": "ClusterSetIP", "ips": ["10.42.0.1", "fd00:42::1"], "ports": []}),
        ("db", {"type": "Headless", "ports": [{"name": "sql", "port": 5432}]}),
    ):
        server.apply(
            {
                "apiVersion": "multicluster.x-k8s.io/v1alpha1",
                "kind": "ServiceImport",
                "metadata": {"name": name, "namespace": "default"},
                "spec": spec,
            }
        )
    args = ("--server", server.url, "get")
    rows = table(await kubectl(env, tmp_path, *args, "serviceimports", "-A"))
    assert rows[0] == ["NAMESPACE", "NAME", "TYPE", "IP", "AGE"]
    assert [r[:4] for r in rows[1:]] == [
        ["default", "db", "Headless", "<none>"],
        ["default", "web", "ClusterSetIP", "10.42.0.1,fd00:42::1"],
    ]
    out = await kubectl(env, tmp_path, *args, "svcim", "web", "-o", "json")
    assert json.loads(out)["spec"]["ips"] == ["10.42.0.1", "fd00:42::1"]


async def test_kubectl_with_the_written_kubeconfig(
    server: ApiServer, env: dict[str, str], tmp_path: Path
) -> None:
    """The kubeconfig helper's file is enough for kubectl: namespaces, pods, slices."""
    config = write_kubeconfig(tmp_path / "kube" / "config", server.url)
    env = {**env, "KUBECONFIG": str(config)}
    namespaces = table(await kubectl(env, tmp_path, "get", "ns"))
    assert [r[:2] for r in namespaces[1:]] == [
        ["default", "Active"],
        ["kube-node-lease", "Active"],
        ["kube-public", "Active"],
        ["kube-system", "Active"],
    ]
    pods = table(await kubectl(env, tmp_path, "get", "pods", "-A", "-o", "wide"))
    web0 = next(r for r in pods if r[1] == "web-0")
    assert web0[2:4] == ["1/1", "Running"]
    assert web0[6] == "10.2.6.20"
    slices = table(await kubectl(env, tmp_path, "get", "endpointslices", "-n", "kube-system"))
    assert slices[1][1:4] == ["IPv4", "53,53", "10.2.6.10,10.2.7.11"]
    default_ns = table(await kubectl(env, tmp_path, "get", "svc"))
    assert {r[0] for r in default_ns[1:]} == {"api", "dual", "kubernetes", "search", "web"}


async def test_kubectl_writes(server: ApiServer, env: dict[str, str], tmp_path: Path) -> None:
    """kubectl label, patch and delete go through PATCH and DELETE."""
    args = ("--server", server.url)
    await kubectl(env, tmp_path, *args, "label", "svc", "web", "tier=front")
    await kubectl(
        env,
        tmp_path,
        *args,
        "patch",
        "svc",
        "api",
        "--type=merge",
        "-p",
        '{"spec":{"ports":[{"name":"http","port":8080}]}}',
    )
    await kubectl(env, tmp_path, *args, "delete", "pod", "web-1", "--wait=false")
    web = server.get("svc", "default", "web")
    api = server.get("svc", "default", "api")
    assert web is not None
    assert web["metadata"]["labels"]["tier"] == "front"
    assert api is not None
    assert api["spec"]["ports"][0]["port"] == 8080
    assert server.get("pods", "default", "web-1") is None


async def test_kubectl_watch_sees_a_change(
    server: ApiServer, env: dict[str, str], tmp_path: Path
) -> None:
    """`kubectl get svc -A --watch` prints the list, then a service added while it watches."""
    assert KUBECTL is not None
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--server",
        server.url,
        "get",
        "svc",
        "-A",
        "--watch",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    try:
        lines = [await asyncio.wait_for(proc.stdout.readline(), 30) for _ in range(7)]
        assert b"kube-dns" in b"".join(lines)
        await server.wait_for_watches(1, "services", timeout=30)
        server.apply(
            {
                "kind": "Service",
                "metadata": {"name": "late", "namespace": "default"},
                "spec": {"clusterIP": "10.3.0.99", "ports": [{"port": 8080}]},
            }
        )
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.split()[:4] == [b"default", b"late", b"ClusterIP", b"10.3.0.99"]
    finally:
        proc.terminate()
        await proc.wait()
