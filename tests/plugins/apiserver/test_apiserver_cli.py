"""`kdns apiserver FILE... [--port N]` as a process: serves, writes a kubeconfig, stops on TERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import urllib.request
from pathlib import Path

import yaml

EXAMPLE = Path(__file__).parents[3] / "examples" / "cluster.yaml"
RUN = "import sys; from kdns.plugins.kubernetes.apiserver import main; sys.exit(main(sys.argv[1:]))"


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_serves_until_terminated(tmp_path: Path) -> None:
    """It prints its URL and what it loaded, answers, writes the kubeconfig, exits 0 on TERM."""
    kubeconfig = tmp_path / "kubeconfig"
    proc = await start(str(EXAMPLE), "--port", "0", "--kubeconfig", str(kubeconfig))
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert "6 services" in line
        assert "6 endpointslices" in line
        url = line.split(" at ")[1].split()[0]
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url

        def get() -> object:
            with urllib.request.urlopen(f"{url}/api/v1/namespaces/kube-system/services") as r:
                return json.loads(r.read())

        doc = await asyncio.to_thread(get)
        assert isinstance(doc, dict)
        assert doc["items"][0]["metadata"]["name"] == "kube-dns"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_bad_file_exits_1_naming_it(tmp_path: Path) -> None:
    """A manifest that cannot be read is reported with its name and exit status 1."""
    proc = await start(str(tmp_path / "missing.yaml"), "--port", "0")
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert "missing.yaml" in err.decode()
