"""How much faster `editrl bench` runs a grid with 2 workers than the same runs one after another.

A grid of 4 short toy runs (2 variants × 2 seeds of the shrunken neighbor_grpo recipe) is benched twice into fresh
directories: with ``-j 1`` (one run at a time, all cores' threads for it) and with ``-j 2`` (two at a time, the
threads split between them). It prints both wall times and their ratio (target ≥ 1.6× on 2 cores), then the time of
a third call on the finished grid, which only rebuilds the report (target < 30 s).

    python benchmarks/bench_parallel.py [--steps 8]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = """\
name: parallel
seeds: [0, 1]
baseline: a
variants:
  a: {{recipe: {recipe}}}
  b: {{recipe: {recipe}, overrides: [exploration.sigma=0.6]}}
metrics: [toy_judge]
overrides: [train.batch_size=2, exploration.group_size=4, solver.steps=4, optimizer.anchors=2, eval.max_examples=12,
            train.save_every=0, train.steps={steps}]
"""


def timed_bench(bench_file: Path, out: Path, workers: int) -> float:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "editrl", "bench", str(bench_file), "-o", str(out), "-j", str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="training steps of each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_file = Path(tmp) / "parallel.yaml"
        bench_file.write_text(GRID.format(recipe=REPO / "recipes" / "toy" / "neighbor_grpo.yaml", steps=args.steps))
        sequential = timed_bench(bench_file, Path(tmp) / "sequential", 1)
        parallel = timed_bench(bench_file, Path(tmp) / "parallel", 2)
        report_only = timed_bench(bench_file, Path(tmp) / "parallel", 2)
    print(f"4 runs of {args.steps} steps: one at a time {sequential:.1f} s, two at a time {parallel:.1f} s, "
          f"speed-up {sequential / parallel:.2f}× (target ≥ 1.6× on 2 cores)")
    print(f"rerun of the finished bench (report only): {report_only:.1f} s (target < 30 s)")


if __name__ == "__main__":
    main()
