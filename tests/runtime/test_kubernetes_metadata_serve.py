"""kubernetes metadata over real sockets: *log* prints `{/kubernetes/...}` values for a name
of the cluster zone, and the client Pod's name when the query comes from a Pod's IP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.asyncquery
import dns.message
import dns.rcode

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.testing import free_port, running

EXAMPLES = Path(__file__).parents[2] / "examples"
Lines = Callable[[], list[str]]
FORMAT = (
    "{/kubernetes/kind} {/kubernetes/namespace} {/kubernetes/service} "
    "{/kubernetes/client-namespace}/{/kubernetes/client-pod-name}"
)


async def test_log_prints_kubernetes_metadata(tmp_path: Path, lines: Lines) -> None:
    async with ApiServer([EXAMPLES / "cluster.yaml"]) as api:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
        api.apply(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "client", "namespace": "dev"},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
                "status": {"podIP": "127.0.0.2"},
            }
        )
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        port = free_port()
        corefile = f"""\
.:{port} {{
    metadata
    log . "{{name}} {FORMAT}"
    kubernetes cluster.local {{
        kubeconfig {kubeconfig}
        pods verified
    }}
}}
"""
        async with running(corefile, folder=tmp_path):
            for source in ("127.0.0.2", "127.0.0.1"):
                msg = dns.message.make_query("kubernetes.default.svc.cluster.local.", "A")
                reply = await dns.asyncquery.udp(
                    msg, "127.0.0.1", port=port, source=source, timeout=3
                )
                assert reply.rcode() == dns.rcode.NOERROR
    assert [line for line in lines() if "plugin/" not in line] == [
        "[INFO] kubernetes.default.svc.cluster.local. svc default kubernetes dev/client",
        "[INFO] kubernetes.default.svc.cluster.local. svc default kubernetes -/-",
    ]
