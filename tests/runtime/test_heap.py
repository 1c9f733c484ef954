"""The heap is frozen once the data is in (runtime/heap.py), and nothing a reload retires stays."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from pathlib import Path

import dns.rcode

from kdns.plugins.kubernetes.apiserver import ApiServer, write_kubeconfig
from kdns.runtime.testing import free_port, query, running

EXAMPLES = Path(__file__).parents[2] / "examples"


def corefile(port: int, kubeconfig: Path, extra: str = "") -> str:
    return (
        f".:{port} {{\n    kubernetes cluster.local 10.3.0.0/24 {{\n"
        f"        kubeconfig {kubeconfig}\n    }}\n{extra}    cache 30\n}}\n"
    )


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_synced_data_is_frozen_and_a_reload_leaves_no_retired_generation(
    tmp_path: Path,
) -> None:
    async with ApiServer([EXAMPLES / "cluster.yaml"]) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url)
        port = free_port()
        text = corefile(port, kubeconfig)
        async with running(text, folder=tmp_path, drain=0.1, freeze=True) as server:
            assert await until(lambda: gc.get_freeze_count() > 0)
            assert server.current is not None
            plugins = {h.name: h for h in server.current.handlers}
            index = plugins["kubernetes"].index  # type: ignore[attr-defined]
            service = index.service("default", "kubernetes")
            assert service is not None
            assert service not in gc.get_objects()  # frozen: full passes do not walk it
            retired = weakref.ref(plugins["cache"])  # the first generation's cache
            del plugins, index, service
            name = "kubernetes.default.svc.cluster.local"
            assert (await query(port, name)).rcode() == dns.rcode.NOERROR
            (tmp_path / "Corefile").write_text(corefile(port, kubeconfig, "    errors\n"))
            assert await server.reload()
            assert gc.get_freeze_count() == 0 or retired() is None  # thawed by the reload
            # the next settle collects what the old generation left, then freezes again
            assert await until(lambda: retired() is None and gc.get_freeze_count() > 0)
            assert (await query(port, name)).rcode() == dns.rcode.NOERROR
        assert gc.get_freeze_count() == 0  # a stopped server leaves nothing frozen
