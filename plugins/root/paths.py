"""root: how other plugins resolve a relative file path against the block's *root*."""

from __future__ import annotations

import os
from collections.abc import Mapping

from kdns.plugins.root.config import RootConfig


def root_of(configs: Mapping[str, tuple[object, ...]]) -> str:
    """Return the block's root directory ("" when it sets none); the last `root` wins."""
    roots = [c for c in configs.get("root", ()) if isinstance(c, RootConfig)]
    return roots[-1].path if roots else ""


def resolve_path(path: str, configs: Mapping[str, tuple[object, ...]]) -> str:
    """Return `path` joined to the block's root when it is relative (CoreDNS's rule)."""
    root = root_of(configs)
    if root and not os.path.isabs(path):
        return os.path.join(root, path)
    return path
