"""A reload that leaves the kubernetes block unchanged keeps its watch: no re-list."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.rcode

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.testing import free_port, query, running

EXAMPLES = Path(__file__).parents[2] / "examples"


def corefile(port: int, kubeconfig: Path, extra: str = "") -> str:
    return (
        f".:{port} {{\n    kubernetes cluster.local 10.3.0.0/24 {{\n"
        f"        kubeconfig {kubeconfig}\n    }}\n{extra}    whoami\n}}\n"
    )


async def test_unchanged_kubernetes_block_is_not_listed_again(tmp_path: Path) -> None:
    """Reloading with another plugin changed: no new list call, names answer throughout;
    changing the kubernetes block itself does list again."""
    async with ApiServer([EXAMPLES / "cluster.yaml"]) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        port = free_port()
        async with running(corefile(port, kubeconfig), folder=tmp_path) as server:
            name = "kubernetes.default.svc.cluster.local"
            assert (await query(port, name)).rcode() == dns.rcode.NOERROR
            lists = sum(api.list_calls.values())
            assert lists >= 3  # namespaces, services, endpointslices

            (tmp_path / "Corefile").write_text(corefile(port, kubeconfig, "    errors\n"))
            assert await server.reload()
            assert (await query(port, name)).rcode() == dns.rcode.NOERROR
            assert sum(api.list_calls.values()) == lists

            api.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "late", "namespace": "default"},
                    "spec": {"clusterIP": "10.3.0.99", "ports": [{"port": 80}]},
                }
            )
            for _ in range(200):  # the shared watch still feeds the new generation
                reply = await query(port, "late.default.svc.cluster.local")
                if reply.rcode() == dns.rcode.NOERROR:
                    break
                await asyncio.sleep(0.02)
            assert reply.answer[0][0].address == "10.3.0.99"

            changed = corefile(port, kubeconfig, "    errors\n").replace(
                "        kubeconfig ", "        ttl 30\n        kubeconfig ", 1
            )
            (tmp_path / "Corefile").write_text(changed)
            assert await server.reload()
            assert sum(api.list_calls.values()) > lists
