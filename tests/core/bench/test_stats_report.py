"""Report statistics against hand-computed values: mean ± std, paired differences, Student-t intervals, and the
report built from fabricated eval.json files (no training)."""

from __future__ import annotations

import json
import math

import pytest

from editrl.bench.plan import PlannedRun
from editrl.bench.report import BASE, build_report, markdown
from editrl.bench.spec import BenchSpec
from editrl.bench.stats import PairedDifference, Summary


def test_summary_is_mean_and_sample_std():
    # values 1, 2, 4: mean 7/3 = 2.3333; squared deviations 1.7778 + 0.1111 + 2.7778 = 4.6667;
    # sample variance 4.6667 / (3 − 1) = 2.3333; std √2.3333 = 1.52753
    s = Summary.of([1.0, 2.0, 4.0])
    assert s.mean == pytest.approx(2.333333, abs=1e-6)
    assert s.std == pytest.approx(1.527525, abs=1e-6)
    assert s.n == 3
    assert s.text() == "2.333 ± 1.528"
    one = Summary.of([5.0])
    assert one.mean == 5.0 and math.isnan(one.std) and one.text() == "5.000"


def test_paired_difference_t_interval_including_zero():
    # d = variant − baseline per seed = 0.5, 1.0, 2.5: mean 4/3 = 1.33333; squared deviations
    # 0.69444 + 0.11111 + 1.36111 = 2.16667; sample std √(2.16667 / 2) = 1.040833; standard error 1.040833 / √3 =
    # 0.600925; t quantile t_{0.975, 2} = 4.302653 (two-sided 95%, 2 degrees of freedom); half-width
    # 4.302653 · 0.600925 = 2.585572; interval [−1.252239, 3.918905] contains 0.
    d = PairedDifference.of({0: 1.0, 1: 2.0, 2: 4.0}, {0: 0.5, 1: 1.0, 2: 1.5})
    assert d.mean == pytest.approx(1.333333, abs=1e-6)
    assert d.std == pytest.approx(1.040833, abs=1e-6)
    assert d.low == pytest.approx(-1.252239, abs=1e-5)
    assert d.high == pytest.approx(3.918905, abs=1e-5)
    assert not d.distinguishable
    assert d.seeds == [0, 1, 2]


def test_paired_difference_t_interval_excluding_zero_pairs_by_seed():
    # Seeds 0..3 in both, seed 9 only in the variant (ignored: differences are paired by seed).
    # d = 1.0, 1.2, 0.8, 1.0: mean 1.0; squared deviations 0 + 0.04 + 0.04 + 0 = 0.08; sample std √(0.08 / 3) =
    # 0.163299; standard error 0.163299 / √4 = 0.081650; t_{0.975, 3} = 3.182446; half-width 0.259845;
    # interval [0.740155, 1.259845] excludes 0 → distinguishable.
    variant = {0: 3.0, 1: 3.2, 2: 2.8, 3: 4.0, 9: 100.0}
    baseline = {0: 2.0, 1: 2.0, 2: 2.0, 3: 3.0}
    d = PairedDifference.of(variant, baseline)
    assert d.n == 4 and d.seeds == [0, 1, 2, 3]
    assert d.mean == pytest.approx(1.0, abs=1e-9)
    assert d.low == pytest.approx(0.740155, abs=1e-5)
    assert d.high == pytest.approx(1.259845, abs=1e-5)
    assert d.distinguishable
    assert d.text() == "+1.000 [+0.740, +1.260] **"


def test_paired_difference_of_one_seed_has_no_interval():
    d = PairedDifference.of({0: 2.0}, {0: 1.5})
    assert d.mean == 0.5 and math.isnan(d.low) and not d.distinguishable
    assert PairedDifference.from_dict(json.loads(json.dumps(d.as_dict()))).text() == "+0.500 (one seed, no interval)"


def _fake_run(tmp_path, variant: str, seed: int, base: dict, trained: dict) -> PlannedRun:
    run_dir = tmp_path / "runs" / variant / f"seed_{seed}"
    run_dir.mkdir(parents=True)
    counts = {"all": 4, "add": 2, "remove": 2}
    evaluation = [{"label": "base", "means": base, "counts": counts}, {"label": "step 2", "means": trained, "counts": counts}]
    (run_dir / "eval.json").write_text(json.dumps(evaluation))
    return PlannedRun(variant, seed, tmp_path / "r.yaml", [], run_dir, "f", 2)


def test_report_from_eval_files(tmp_path):
    spec = BenchSpec.model_validate({
        "name": "t", "seeds": [0, 1], "baseline": "ref", "metrics": ["m", "nope"],
        "variants": {"ref": {"recipe": "r.yaml"}, "new": {"recipe": "r.yaml", "label": "the new one"}},
    })
    base = {"all": {"m": 1.0}, "add": {"m": 0.5}, "remove": {"m": 1.5}}
    runs = [
        _fake_run(tmp_path, "ref", 0, base, {"all": {"m": 2.0}, "add": {"m": 1.0}, "remove": {"m": 3.0}}),
        _fake_run(tmp_path, "ref", 1, base, {"all": {"m": 3.0}, "add": {"m": 2.0}, "remove": {"m": 4.0}}),
        _fake_run(tmp_path, "new", 0, base, {"all": {"m": 2.5}, "add": {"m": 1.0}, "remove": {"m": 4.0}}),
        _fake_run(tmp_path, "new", 1, base, {"all": {"m": 4.0}, "add": {"m": 3.0}, "remove": {"m": 5.0}}),
    ]
    for run, values in ((runs[0], (1.0, 3.0)), (runs[1], (2.0, 2.0))):
        rows = [{"step": i + 1, "reward/toy_judge/group_std": v, "diag/background_drift": v / 10}
                for i, v in enumerate(values)]
        (run.run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = build_report(spec, tmp_path / "bench.yaml", runs, [])
    assert report["tasks"] == ["all", "add", "remove"]
    assert report["missing"] == ["nope"] and report["available"] == ["m"]
    # base editor: 1.0 in all four runs → mean 1.0, std 0
    assert report["base"]["all"]["m"]["mean"] == 1.0 and report["base"]["all"]["m"]["std"] == 0.0
    # ref over seeds: 2, 3 → mean 2.5, std √((0.25 + 0.25) / 1) = 0.707107
    ref = report["variants"]["ref"]["results"]["all"]["m"]
    assert ref["mean"] == pytest.approx(2.5) and ref["std"] == pytest.approx(0.707107, abs=1e-6)
    # new − ref per seed: 0.5, 1.0 → mean 0.75, sample std √((0.0625 + 0.0625) / 1) = 0.353553; se 0.353553/√2 = 0.25;
    # t_{0.975, 1} = 12.706205 → half-width 3.176551 → [−2.426551, 3.926551]
    paired = report["paired"]["new"]["all"]["m"]
    assert paired["mean"] == pytest.approx(0.75)
    assert paired["low"] == pytest.approx(-2.426551, abs=1e-5) and paired["high"] == pytest.approx(3.926551, abs=1e-5)
    assert not paired["distinguishable"]
    # per task: remove, new − ref = 1.0, 1.0 → std 0, interval [1, 1], distinguishable
    remove = report["paired"]["new"]["remove"]["m"]
    assert remove["mean"] == pytest.approx(1.0) and remove["distinguishable"]
    # base editor − ref per seed: −1, −2 → mean −1.5
    assert report["paired"][BASE]["all"]["m"]["mean"] == pytest.approx(-1.5)
    # within-group spread from metrics.jsonl (only ref's runs have one): seed 0 logs 1.0 then 3.0, seed 1 2.0 then 2.0
    # → first step: mean (1 + 2)/2 = 1.5; per-seed training means 2.0 and 2.0 → mean 2.0, std 0
    spread = report["spread"]["ref"]["reward/toy_judge/group_std"]
    assert spread["first_step"]["mean"] == pytest.approx(1.5)
    assert spread["training_mean"]["mean"] == pytest.approx(2.0) and spread["training_mean"]["std"] == 0.0
    assert report["spread"]["new"] == {}
    text = markdown(json.loads(json.dumps(report)), [])
    assert "| the new one | – | – |" in text and "| ref | 1.500 ± 0.707 / 2.000 ± 0.000 |" in text
    assert "| the new one | 3.250 ± 1.061 |" in text  # 2.5, 4.0: mean 3.25, std √((0.5625 + 0.5625)/1) = 1.06066
    assert "| the new one | +0.750 [-2.427, +3.927] |" in text
