"""Run kdns with tracemalloc on, for bench/k8s_scale.py --profile.

    python bench/k8s_tracemalloc.py OUT_DIR -conf Corefile

Each SIGUSR2 writes OUT_DIR/snapshot-N.txt: traced memory now and its peak since the last
signal, then the 25 source lines holding the most memory. SIGUSR1 stays kdns's reload.
`print_profile` reads those files back for the report.
"""

from __future__ import annotations

import signal
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import FrameType


def _writer(out: Path) -> Callable[[int, FrameType | None], None]:
    count = 0

    def dump(signum: int, frame: FrameType | None) -> None:
        nonlocal count
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        lines = [f"traced {current / 1e6:.1f} MB, peak since last {peak / 1e6:.1f} MB"]
        lines += [str(stat) for stat in snapshot.statistics("lineno")[:25]]
        count += 1
        (out / f"snapshot-{count}.txt").write_text("\n".join(lines) + "\n")

    return dump


def print_profile(folder: Path) -> None:
    """Print the steady snapshot and the re-list snapshot that traced the most."""
    files = sorted(folder.glob("snapshot-*.txt"), key=lambda p: int(p.stem.split("-")[1]))
    if not files:
        print("  (no tracemalloc snapshot was written)")
        return

    def traced(path: Path) -> float:
        return float(path.read_text().split()[1])

    during = files[1:-1] or files
    biggest = max(during, key=traced)
    peak = max(float(p.read_text().split(",")[1].split()[3]) for p in files[1:] or files)
    for title, path in (("steady", files[0]), ("largest during the re-list", biggest)):
        print(f"  tracemalloc, {title}:")
        for line in path.read_text().splitlines()[:16]:
            print(f"    {line}")
    print(f"  tracemalloc peak during the re-list: {peak:.1f} MB")


def main() -> int:
    """Start tracing, install the handler, and run kdns with the remaining arguments."""
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(1)
    signal.signal(signal.SIGUSR2, _writer(out))
    from kdns.runtime.cli import main as kdns

    code: int = kdns(sys.argv[2:])
    return code


if __name__ == "__main__":
    raise SystemExit(main())
