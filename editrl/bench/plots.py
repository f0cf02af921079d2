"""The bench's PNG plots, from the runs' metrics.jsonl, the report's numbers and the runs' saved samples.

- ``curves.png``: each reported metric over training (its training-reward key in metrics.jsonl), per variant, the
  mean over seeds with a ± std band;
- ``final.png``: the held-out metrics per variant, mean with ± std error bars, the base editor as a dashed line;
- ``spread.png``: the within-group std of every reward term (``…group_std``) and the background drift over training
  (the seed's Fig. 5b/c);
- ``samples.png``: the first held-out examples: source | base | each variant's edit (its first seed) | target.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from editrl.bench.plan import PlannedRun
from editrl.bench.report import read_metrics, spread_keys
from editrl.bench.sheet import save_sheet
from editrl.engine.evaluation import SAMPLES_FILE, load_samples

def _figure(panels: int, width: float = 4.2, height: float = 3.2):
    from matplotlib.figure import Figure

    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(width * cols, height * rows))
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def training_key(metric: str) -> str:
    """metrics.jsonl key of an eval.json metric: ``toy_judge`` → ``reward/toy_judge/mean``, ``toy_judge/semantic`` →
    ``reward/toy_judge/semantic``."""
    return f"reward/{metric}" if "/" in metric else f"reward/{metric}/mean"


def _band(ax, logs: list[list[dict]], key: str, label: str, color: str):
    """Mean over seeds of ``key`` per step (steps every seed logged), with a ± std band; the line, or None if no
    run has the key."""
    series = [{row["step"]: row[key] for row in log if key in row} for log in logs]
    steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
    if not steps:
        return None
    values = torch.tensor([[s[step] for step in steps] for s in series], dtype=torch.float64)  # [seeds, steps]
    mean = values.mean(0)  # [steps]
    std = values.std(0) if len(series) > 1 else torch.zeros_like(mean)  # [steps]
    line = ax.plot(steps, mean.tolist(), label=label, linewidth=1.2, color=color)[0]
    ax.fill_between(steps, (mean - std).tolist(), (mean + std).tolist(), color=color, alpha=0.2)
    return line


def _over_training(path: Path, runs: list[PlannedRun], labels: dict[str, str], keys: list[str], title: str) -> Path | None:
    """One panel per key present in some run: each variant's mean over seeds per step with a ± std band."""
    logs = {v: [read_metrics(r) for r in runs if r.variant == v] for v in labels}
    present = [k for k in keys if any(k in row for rows in logs.values() for log in rows for row in log)]
    if not present:
        return None
    fig, axes = _figure(len(present))
    # one colour per variant in every panel, and one legend for the figure: a panel may lack some variants (a reward
    # term only some of them use)
    colors = {v: f"C{i % 10}" for i, v in enumerate(labels)}
    handles: dict[str, object] = {}
    for ax, key in zip(axes, present):
        for variant, label in labels.items():
            line = _band(ax, logs[variant], key, label, colors[variant])
            if line is not None:
                handles.setdefault(variant, line)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.tick_params(labelsize=7)
    shown = [v for v in labels if v in handles]
    fig.legend([handles[v] for v in shown], [labels[v] for v in shown], loc="lower center",
               ncol=min(3, len(shown)), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.04 * math.ceil(len(shown) / 3), 1, 1))
    fig.savefig(path, dpi=110)
    return path


def curves(out: Path, runs: list[PlannedRun], labels: dict[str, str], metrics: list[str]) -> Path | None:
    return _over_training(out / "curves.png", runs, labels, [training_key(m) for m in metrics],
                          "training reward per step (mean over seeds ± std)")


def spread(out: Path, runs: list[PlannedRun], labels: dict[str, str]) -> Path | None:
    keys = spread_keys([read_metrics(r) for r in runs])
    return _over_training(out / "spread.png", runs, labels, keys,
                          "within-group std of each reward term, background drift (mean over seeds ± std)")


def final(out: Path, report: dict) -> Path:
    """Points with error bars: each variant's held-out mean ± std over seeds per metric; the base editor dashed."""
    metrics = report["metrics"]
    fig, axes = _figure(len(metrics), width=max(3.5, 0.9 * len(report["variants"]) + 1.5))
    for ax, metric in zip(axes, metrics):
        names = [v["label"] for v in report["variants"].values()]
        stats = [v["results"]["all"].get(metric) for v in report["variants"].values()]
        means = [s["mean"] if s else math.nan for s in stats]
        errs = [s["std"] if s and s["std"] is not None else 0.0 for s in stats]
        ax.errorbar(range(len(names)), means, yerr=errs, fmt="o", capsize=4, color="tab:blue")
        base = report["base"]["all"].get(metric)
        if base:
            ax.axhline(base["mean"], color="k", linestyle="--", linewidth=1, label="base editor")
            ax.legend(fontsize=7)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlim(-0.5, len(names) - 0.5)
    fig.suptitle("held-out metrics (mean ± std over seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "final.png", dpi=110)
    return out / "final.png"


def sample_sheet(out: Path, runs: list[PlannedRun], labels: dict[str, str], count: int) -> Path | None:
    """Source | base | each variant (its first seed's run) | target for the first ``count`` held-out examples
    every variant saved (variants evaluated on other examples are left out of the sheet)."""
    if count == 0:
        return None
    firsts = {}
    for run in runs:
        if run.variant not in firsts and (run.run_dir / SAMPLES_FILE).is_file():
            firsts[run.variant] = load_samples(run.run_dir / SAMPLES_FILE)
    if not firsts:
        return None
    ref_images, ref_meta = next(iter(firsts.values()))
    ids = ref_meta["ids"][:count]
    same = {v: s for v, s in firsts.items() if s[1]["ids"][: len(ids)] == ids}
    n = len(ids)
    columns = {"source": ref_images["source"][:n], "base": ref_images["base"][:n]}  # [n, 3, H, W] each
    columns.update({labels[v]: images["trained"][:n] for v, (images, _) in same.items()})
    if "target" in ref_images:
        columns["target"] = ref_images["target"][:n]
    rows = [f"{t}: {i}" for t, i in zip(ref_meta["tasks"][:n], ref_meta["instructions"][:n])]
    return save_sheet(out / "samples.png", columns, rows, title="held-out samples (first seed of each variant)")


def all_plots(out: Path, runs: list[PlannedRun], report: dict, labels: dict[str, str], samples: int) -> list[str]:
    made = [curves(out, runs, labels, report["metrics"]), final(out, report), spread(out, runs, labels),
            sample_sheet(out, runs, labels, samples)]
    return [str(p) for p in made if p is not None]
