"""Writing a folder the way the kubelet updates a mounted ConfigMap (for tests and demos).

The kubelet writes the new files into a fresh timestamped directory, points a temporary
symlink at it, renames that over `..data` (atomic), and keeps each key as a symlink
`KEY -> ..data/KEY`. Watchers that follow only the file itself miss this; kdns must not.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


def write_configmap(folder: Path, files: dict[str, str]) -> None:
    """Publish `files` (name -> text) into `folder` atomically, as the kubelet does."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.") + f"{time.monotonic_ns()}"
    target = folder / stamp
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)
    data = folder / "..data"
    old = os.readlink(data) if data.is_symlink() else None
    tmp = folder / "..data_tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(stamp)
    os.replace(tmp, data)
    for name in files:
        link = folder / name
        if not link.is_symlink():
            if link.exists():
                link.unlink()
            link.symlink_to(Path("..data") / name)
    if old is not None and old != stamp:
        shutil.rmtree(folder / old, ignore_errors=True)
