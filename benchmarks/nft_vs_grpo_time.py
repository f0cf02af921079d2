"""DiffusionNFT against GRPO-clip at equal wall-clock time, from the runs of ``benchmarks/cocoedit_ablation.yaml``
(its ``judge_sim`` variant, NFT, and ``grpo_judge_sim``, GRPO-clip with Neighbor GRPO's exploration and policy, both
on the toy judge 0.8 + r_sim 0.2 reward for 30 steps; ``grpo_equal_time`` is GRPO-clip for the 66 steps that take as
long as NFT's 30).

Each run's ``metrics.jsonl`` gives the training judge of every step (``reward/toy_judge/mean``, the mean over the
step's candidates) and the step's wall time (``time/step_s``). Per seed, the judge is smoothed over 5 steps and read
on a common time grid up to the shortest run's total time; the plot shows the mean over seeds with a ±1 std band,
and the script prints the mean smoothed judge of each method at that common end time and the held-out judge of each
(``eval.json``, after all its steps).

    python benchmarks/nft_vs_grpo_time.py runs/bench/cocoedit_ablation [-o benchmarks/results/nft_vs_grpo_time.png]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

METHODS = {"judge_sim": "DiffusionNFT", "grpo_judge_sim": "GRPO-clip", "grpo_equal_time": "GRPO-clip, 66 steps"}
KEY = "reward/toy_judge/mean"
SMOOTH = 5


def curve(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative seconds at the end of each step, training judge smoothed over SMOOTH steps)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    t = np.cumsum([r["time/step_s"] for r in rows])  # [S]
    judge = np.array([r[KEY] for r in rows], dtype=float)  # [S]
    kernel = np.ones(SMOOTH) / SMOOTH
    smoothed = np.convolve(np.pad(judge, (SMOOTH - 1, 0), mode="edge"), kernel, mode="valid")  # trailing mean, [S]
    return t, smoothed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bench_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("benchmarks/results/nft_vs_grpo_time.png"))
    args = parser.parse_args()
    curves, held_out = {}, {}
    for variant in METHODS:
        runs = sorted((args.bench_dir / "runs" / variant).glob("seed_*"))
        runs = [r for r in runs if (r / "metrics.jsonl").is_file() and (r / "eval.json").is_file()]
        if not runs:
            raise SystemExit(f"{args.bench_dir}/runs/{variant}: no finished run; run the bench first")
        curves[variant] = [curve(r) for r in runs]
        held_out[variant] = [json.loads((r / "eval.json").read_text())[-1]["means"]["all"]["toy_judge"] for r in runs]
    end = min(t[-1] for cs in curves.values() for t, _ in cs)  # the shortest run's total time

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, label in METHODS.items():
        grid = np.linspace(max(t[0] for t, _ in curves[variant]), min(t[-1] for t, _ in curves[variant]), 200)
        values = np.stack([np.interp(grid, t, j) for t, j in curves[variant]])  # [seeds, 200]
        mean, std = values.mean(axis=0), values.std(axis=0)
        ax.plot(grid, mean, label=label)
        ax.fill_between(grid, mean - std, mean + std, alpha=0.2)
        at_end = [float(np.interp(end, t, j)) for t, j in curves[variant]]
        steps = [len(t) for t, _ in curves[variant]]
        total = [float(t[-1]) for t, _ in curves[variant]]
        print(f"{label:20s} seeds {len(at_end)}: training judge at {end:.0f} s {statistics.mean(at_end):.3f} "
              f"± {statistics.stdev(at_end) if len(at_end) > 1 else 0:.3f}; {steps[0]} steps in "
              f"{statistics.mean(total):.0f} s ({statistics.mean(total) / steps[0]:.2f} s/step); held-out judge "
              f"after all steps {statistics.mean(held_out[variant]):.3f} ± "
              f"{statistics.stdev(held_out[variant]) if len(held_out[variant]) > 1 else 0:.3f}")
    ax.set_xlabel("training wall-clock time (s)")
    ax.set_ylabel(f"training judge ({SMOOTH}-step mean)")
    ax.set_title("DiffusionNFT vs GRPO-clip on the toy, judge 0.8 + r_sim 0.2")
    ax.legend()
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
