"""`kdns demo --once`: the seed's walkthrough answers as the blog post shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_demo_prints_the_seed_lookups() -> None:
    """The seed's four `host` lookups come back with the seed's addresses and names."""
    result = subprocess.run(
        [sys.executable, "-m", "kdns.runtime", "demo", "--once"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "kubernetes.default.svc.cluster.local has address 10.3.0.1" in out
    assert "kube-dns.kube-system.svc.cluster.local has address 10.3.0.10" in out
    assert "1.0.3.10.in-addr.arpa domain name pointer kubernetes.default.svc.cluster.local." in out
    assert (
        "10.0.3.10.in-addr.arpa domain name pointer kube-dns.kube-system.svc.cluster.local." in out
    )
    # the seed's log line shape
    assert '"A IN kubernetes.default.svc.cluster.local. udp 54 false 512" NOERROR' in out
