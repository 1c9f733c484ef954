"""A kubeconfig file pointing at a server, for kubectl and the kubernetes plugin."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_kubeconfig(
    path: Path | str, url: str, *, context: str = "kdns", namespace: str = "default"
) -> Path:
    """Write a kubeconfig whose current context talks to `url` without credentials."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": namespace},
            }
        ],
        "current-context": context,
        "preferences": {},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target
