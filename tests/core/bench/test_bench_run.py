"""A tiny end-to-end bench through the real CLI (2 variants × 2 seeds of the shrunken toy recipe, 2 steps each, two
at a time): runs, report, plots; reuse of finished runs, change detection, an interrupted bench continuing.

The bench runs once per module (about 20–30 s on 2 idle cores); the interruption test edits its runs and comes last.
"""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from editrl.bench.stats import PairedDifference
from tests_support import TINY, TOY_RECIPE, read_metrics

BENCH = """\
name: tiny
seeds: [0, 1]
baseline: narrow
variants:
  narrow: {{recipe: {recipe}}}
  wide: {{recipe: {recipe}, overrides: [exploration.sigma=0.6], label: wide σ}}
metrics: [toy_judge, toy_judge/semantic, masked_psnr/psnr_db]
overrides: [{overrides}]
workers: 2
samples: 3
"""


def _invoke(*args):
    from editrl.cli import build_app

    return CliRunner().invoke(build_app(), [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    path = root / "tiny.yaml"
    overrides = [*TINY, "train.steps=2", "train.save_every=1"]  # a checkpoint every step: the interruption test
    path.write_text(BENCH.format(recipe=TOY_RECIPE, overrides=", ".join(overrides)))
    out = root / "out"
    result = _invoke("bench", path, "-o", out)
    assert result.exit_code == 0, result.output + result.stderr
    return path, out, result


def test_runs_and_report(bench):
    path, out, result = bench
    for variant in ("narrow", "wide"):
        for seed in (0, 1):
            run = out / "runs" / variant / f"seed_{seed}"
            assert (run / "eval.json").is_file() and (run / "samples.png").is_file()
            assert [m["step"] for m in read_metrics(run)] == [1, 2]
            samples = load_file(str(run / "samples.safetensors"))
            assert set(samples) == {"source", "base", "trained", "target"}
            assert samples["trained"].shape[0] == 4  # eval.samples' default
    for name in ("report.md", "report.json", "curves.png", "final.png", "spread.png", "samples.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert report["tasks"] == ["all", "mean_of_tasks", "add", "remove", "replace"]
    # the paired difference is recomputed here from the runs' own eval.json
    trained = {(v, s): json.loads((out / "runs" / v / f"seed_{s}" / "eval.json").read_text())[-1]["means"]["all"]
               for v in ("narrow", "wide") for s in (0, 1)}
    expected = PairedDifference.of({s: trained[("wide", s)]["toy_judge"] for s in (0, 1)},
                                   {s: trained[("narrow", s)]["toy_judge"] for s in (0, 1)})
    got = report["paired"]["wide"]["all"]["toy_judge"]
    assert got["mean"] == pytest.approx(expected.mean) and got["low"] == pytest.approx(expected.low)
    assert {"diag/background_drift", "reward/toy_judge/group_std"} <= set(report["spread"]["wide"])
    md = (out / "report.md").read_text()
    assert "| wide σ |" in md and "## Task type `remove`" in md and "![samples](samples.png)" in md
    assert "4 runs to do, 2 at a time, 1 thread(s) each" in result.output


def test_rerun_reuses_finished_runs(bench):
    path, out, _ = bench
    before = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/eval.json")}
    result = _invoke("bench", path, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "runs to do" not in result.output
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/eval.json")} == before
    assert "4 of 4 runs done; 0 to run" in _invoke("bench", path, "-o", out, "--dry-run").output


def test_changed_recipe_or_override_is_not_served_stale(bench, tmp_path):
    path, out, _ = bench
    everything = _invoke("bench", path, "-o", out, "--dry-run", "train.lr=0.005").output
    assert everything.count(" changed ") == 4
    edited = tmp_path / "edited.yaml"
    edited.write_text(path.read_text().replace("exploration.sigma=0.6", "exploration.sigma=0.7"))
    lines = _invoke("bench", edited, "-o", out, "--dry-run").output.splitlines()
    states = {line.split()[0]: line.split()[1] for line in lines if "/seed_" in line.split()[0]}
    assert states == {"narrow/seed_0": "done", "narrow/seed_1": "done", "wide/seed_0": "changed", "wide/seed_1": "changed"}


def test_interrupted_bench_continues_from_the_checkpoint(bench):
    """Turn wide/seed_1 into a run killed during step 2 (checkpoint of step 1, no evaluation) and bench again."""
    path, out, _ = bench
    run = out / "runs" / "wide" / "seed_1"
    (run / "eval.json").unlink()
    ckpts = run / "checkpoints"
    import shutil

    shutil.rmtree(ckpts / "step_000002")
    (ckpts / "latest").write_text("step_000001")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text(lines[0] + "\n")
    others = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/eval.json")}
    assert "resume from step 1" in _invoke("bench", path, "-o", out, "--dry-run").output
    result = _invoke("bench", path, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "1 of 4 runs to do" in result.output and "wide/seed_1: resumed at step 1" in result.output
    assert [m["step"] for m in read_metrics(run)] == [1, 2]
    assert "(resumed at step 1)" in (run / "bench.log").read_text()
    assert (ckpts / "latest").read_text().strip() == "step_000002" and (run / "eval.json").is_file()
    assert {p: p.stat().st_mtime_ns for p in others} == others
