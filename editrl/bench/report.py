"""The bench report: held-out metrics per variant over seeds, the base editor, paired differences to the baseline.

Everything is read from the finished runs' ``eval.json`` (entry 0: the base editor, last entry: the trained one), so
a report can be rebuilt at any time without training. ``report.json`` holds every number; ``report.md`` the tables.
"""

from __future__ import annotations

import json
from pathlib import Path

from editrl.bench.plan import PlannedRun
from editrl.bench.spec import BenchSpec
from editrl.bench.stats import PairedDifference, Summary

BASE = "base editor"
DRIFT = "diag/background_drift"
#: The unweighted mean over task types in eval.json (editrl.engine.evaluation.TASK_MEAN; not imported: no torch here)
TASK_MEAN = "mean_of_tasks"


def read_metrics(run: PlannedRun) -> list[dict]:
    """A run's metrics.jsonl rows (empty when it has none)."""
    path = run.run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def spread_keys(logs: list[list[dict]]) -> list[str]:
    """The within-group std of every reward term (keys ending in ``group_std``), then the background drift."""
    keys = sorted({k for log in logs for row in log[:1] for k in row if k.endswith("group_std")})
    return [*keys, DRIFT] if any(DRIFT in row for log in logs for row in log[:1]) else keys


def _spread(spec: BenchSpec, runs: list[PlannedRun]) -> dict:
    """Per variant and spread key: over seeds, the value at the first step (the base editor's rollouts) and the
    mean over all steps."""
    logs = {r.key: read_metrics(r) for r in runs}
    keys = spread_keys(list(logs.values()))
    out = {}
    for name in spec.variants:
        mine = [logs[r.key] for r in runs if r.variant == name and logs[r.key]]
        out[name] = {}
        for key in keys:
            series = [[row[key] for row in log if row.get(key) is not None] for log in mine]
            series = [s for s in series if s]
            if series:
                out[name][key] = {"first_step": Summary.of([s[0] for s in series]).as_dict(),
                                  "training_mean": Summary.of([sum(s) / len(s) for s in series]).as_dict()}
    return out


def _read_evals(runs: list[PlannedRun]) -> dict[tuple[str, int], list[dict]]:
    return {(r.variant, r.seed): json.loads((r.run_dir / "eval.json").read_text()) for r in runs}


def _values(evals, variant: str | None, task: str, metric: str, entry: int) -> dict[int, float]:
    """seed → value of ``metric`` for ``task`` in eval.json's ``entry`` (0 base, −1 trained) of a variant's runs
    (``variant=None``: of every run, keyed by position, for the base editor)."""
    out = {}
    for i, ((name, seed), ev) in enumerate(sorted(evals.items(), key=lambda kv: (kv[0][0], kv[0][1]))):
        if variant is not None and name != variant:
            continue
        value = ev[entry]["means"].get(task, {}).get(metric)
        if value is not None:
            out[seed if variant is not None else i] = float(value)
    return out


def build_report(spec: BenchSpec, bench_file: Path, runs: list[PlannedRun], cli_overrides: list[str]) -> dict:
    """Every number of the report.

    1. read each run's eval.json; the task types are those of any run ("all" first);
    2. per variant, task and metric: mean ± std over seeds of the trained editor; the base editor's row over every run
       (identical runs of the base give std 0);
    3. paired differences against the baseline, same seed: each other variant, and the base editor of the baseline's
       own runs; the within-group reward spread and background drift of training (metrics.jsonl).
    """
    evals = _read_evals(runs)  # step 1
    tasks = sorted({t for ev in evals.values() for t in ev[-1]["means"]},
                   key=lambda t: (t != "all", t != TASK_MEAN, t))  # fmt: skip
    first = evals[(spec.baseline, spec.seeds[0])]
    report: dict = {
        "name": spec.name, "description": spec.description, "bench_file": str(bench_file), "seeds": spec.seeds,
        "baseline": spec.baseline, "metrics": spec.metrics, "tasks": tasks, "overrides": cli_overrides,
        "counts": first[-1]["counts"], "base": {}, "variants": {}, "paired": {}, "spread": _spread(spec, runs),
    }
    available = sorted({k for ev in evals.values() for k in ev[-1]["means"].get("all", {})})
    report["available"] = available
    report["missing"] = [m for m in spec.metrics if m not in available]
    for task in tasks:  # step 2
        report["base"][task] = {m: Summary.of(list(v.values())).as_dict() for m in spec.metrics
                                if (v := _values(evals, None, task, m, 0))}
    for name, variant in spec.variants.items():
        results = {task: {m: Summary.of([v[s] for s in sorted(v)]).as_dict() for m in spec.metrics
                          if (v := _values(evals, name, task, m, -1))} for task in tasks}
        report["variants"][name] = {
            "label": variant.label or name, "recipe": str(variant.recipe), "overrides": variant.overrides,
            "runs": {str(r.seed): str(r.run_dir) for r in runs if r.variant == name}, "results": results,
        }
    for name in [*(v for v in spec.variants if v != spec.baseline), BASE]:  # step 3
        entry = 0 if name == BASE else -1
        source = spec.baseline if name == BASE else name
        report["paired"][name] = {task: {
            m: PairedDifference.of(_values(evals, source, task, m, entry), base).as_dict() for m in spec.metrics
            if (base := _values(evals, spec.baseline, task, m, -1)) and _values(evals, source, task, m, entry)
        } for task in tasks}
    return report


def _cell(stats: dict | None) -> str:
    return "–" if stats is None else Summary.from_dict(stats).text()


def _diff_cell(stats: dict | None) -> str:
    return "–" if stats is None else PairedDifference.from_dict(stats).text()


def _table(report: dict, task: str) -> list[str]:
    metrics = report["metrics"]
    lines = ["| variant | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    lines.append(f"| {BASE} | " + " | ".join(_cell(report["base"][task].get(m)) for m in metrics) + " |")
    for name, v in report["variants"].items():
        lines.append(f"| {v['label']} | " + " | ".join(_cell(v["results"][task].get(m)) for m in metrics) + " |")
    return lines


def markdown(report: dict, plots: list[str]) -> str:
    """The report's tables (all tasks, paired differences, each task type), the plots and the runs."""
    seeds = ", ".join(map(str, report["seeds"]))
    baseline = report["variants"][report["baseline"]]["label"]
    command = " ".join(["editrl bench", report["bench_file"], *report["overrides"]])
    counts = ", ".join(f"{n} {t}" for t, n in report["counts"].items() if t not in ("all", TASK_MEAN))
    lines = [f"# Bench `{report['name']}`", ""]
    if report["description"]:
        lines += [report["description"].strip(), ""]
    lines += [
        f"Regenerate: `{command}`. Seeds {seeds}; held-out split: {report['counts'].get('all', '?')} examples ({counts}).",
        "Each cell: mean ± sample std (n − 1) over seeds of the trained editor's held-out metric; the base editor's row "
        "is its evaluation in every run (std 0 when every run evaluated it identically).",
        "", "## All task types", "", *_table(report, "all"), "",
        f"## Paired differences against `{baseline}` (same seed)", "",
        "Mean of (variant − baseline) over seeds and its 95% Student-t interval; ** marks an interval that excludes 0 "
        "(distinguishable from seed noise).", "",
        "| variant | " + " | ".join(report["metrics"]) + " |", "|---" * (len(report["metrics"]) + 1) + "|",
    ]
    for name, per_task in report["paired"].items():
        label = BASE if name == BASE else report["variants"][name]["label"]
        lines.append(f"| {label} | " + " | ".join(_diff_cell(per_task["all"].get(m)) for m in report["metrics"]) + " |")
    lines += _spread_table(report)
    for task in report["tasks"]:
        if task == TASK_MEAN:
            lines += ["", "## Unweighted mean over the task types", "", *_table(report, task)]
        elif task != "all":
            lines += ["", f"## Task type `{task}` ({report['counts'].get(task, '?')} examples)", "", *_table(report, task)]
    if plots:
        lines += ["", "## Plots", "", *[f"![{Path(p).stem}]({Path(p).name})" for p in plots]]
    lines += ["", "## Variants", "", "| variant | recipe | overrides |", "|---|---|---|"]
    for v in report["variants"].values():
        lines.append(f"| {v['label']} | `{v['recipe']}` | `{' '.join(v['overrides']) or '(none)'}` |")
    return "\n".join(lines) + "\n"


def _spread_table(report: dict) -> list[str]:
    keys = sorted({k for per_key in report["spread"].values() for k in per_key}, key=lambda k: (k == DRIFT, k))
    if not keys:
        return []
    lines = ["", "## Within-group spread and background drift during training", "",
             "Each cell: at the first step (the base editor's rollouts) / mean over all steps, mean ± std over seeds.", "",
             "| variant | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, per_key in report["spread"].items():
        cells = [f"{_cell(per_key[k]['first_step'])} / {_cell(per_key[k]['training_mean'])}" if k in per_key else "–"
                 for k in keys]
        lines.append(f"| {report['variants'][name]['label']} | " + " | ".join(cells) + " |")
    return lines


def write_report(report: dict, out_dir: Path, plots: list[str]) -> tuple[Path, Path]:
    """``report.json`` (with the plot file names) and ``report.md`` in ``out_dir``."""
    report = {**report, "plots": [Path(p).name for p in plots]}
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    md_path.write_text(markdown(report, plots))
    return md_path, json_path
