"""Time `kdns check` on a generated 10,000-line Corefile with imports and snippets.

Prints the median wall time of `kdns check` next to `python -c pass` measured in the same
run (the interpreter start-up that any Python command pays). Target: under one second.

    python bench/check_speed.py [--lines 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNIPPETS = """\
(common) {
    errors
    cache 30 {
        success 9984 30
        denial 9984 5
        prefetch 10 1m 10%
    }
    loadbalance
}
(upstream) {
    forward . 10.0.0.1 10.0.0.2:5353 [2001:db8::1]:53 {
        policy sequential
        max_fails 3
        health_check 5s
        except internal.example
    }
}
"""

BLOCK = """\
zone{i}.example.com:{port} 10.{a}.{b}.0/24 {{
    import common
    import upstream
    import parts/part{part}.conf
    log . "{{remote}} {{type}} {{name}}" {{
        class denial error
    }}
    hosts {{
        10.{a}.{b}.1 host{i}.zone{i}.example.com
        10.{a}.{b}.2 mail{i}.zone{i}.example.com
        ttl 60
        fallthrough
    }}
    # a comment line, as real Corefiles have them
}}
"""

PART = """\
template IN A zone{i}.example.com {{
    match "^(?P<name>[a-z]+)[.]zone{i}[.]example[.]com[.]$"
    answer "{{{{ .Name }}}} 60 IN A 10.0.0.{n}"
    fallthrough
}}
"""


def generate(folder: Path, target_lines: int) -> tuple[Path, int, int]:
    """Write the Corefile and its imports; return the main path, total lines and blocks."""
    (folder / "parts").mkdir()
    parts = 20
    for i in range(parts):
        (folder / "parts" / f"part{i}.conf").write_text(PART.format(i=i, n=i % 250 + 1))
    chunks = [SNIPPETS]
    total = SNIPPETS.count("\n") + parts * PART.count("\n")
    i = 0
    while total < target_lines:
        block = BLOCK.format(i=i, port=53 + i % 3, a=i // 250 % 250, b=i % 250, part=i % parts)
        chunks.append(block)
        total += block.count("\n") + PART.count("\n")  # each block imports one part file
        i += 1
    main = folder / "Corefile"
    main.write_text("".join(chunks))
    return main, total, i


def median_seconds(cmd: list[str], runs: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, lines, blocks = generate(Path(tmp), args.lines)
        baseline, _ = median_seconds([sys.executable, "-c", "pass"], args.runs)
        check, result = median_seconds(
            [sys.executable, "-m", "kdns.runtime", "check", str(path)], args.runs
        )
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)
            return 1
        print(
            f"generated Corefile: {lines} lines, {blocks} server blocks, 2 snippets, "
            f"{blocks} file imports"
        )
        print(f"{'command':<32} {'median s':>9}  (of {args.runs} runs)")
        print(f"{'python -c pass':<32} {baseline:>9.3f}")
        print(f"{'kdns check':<32} {check:>9.3f}")
        print(
            f"kdns check minus interpreter start: {check - baseline:.3f} s; target < 1 s total: "
            f"{'met' if check < 1.0 else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
