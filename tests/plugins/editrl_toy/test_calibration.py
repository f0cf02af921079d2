"""``editrl toy baseline`` scores the base editor exactly as a run's final table does; ``editrl toy calibrate``."""

from __future__ import annotations

import json
import re

import torch

from editrl.config.schema import EvalSettings
from editrl.interfaces import EditBatch
from editrl_toy.backbone import ToyEditor
from editrl_toy.calibration import editor_scores, markdown
from editrl_toy.dataset import ToyShapes
from editrl_toy.evaluate import EVAL_SEED, row_scores
from tests_support import TOY_RECIPE

#: One cheap training step (1 group of 4, 2 anchors); the held-out table covers the first 6 eval examples.
ONE_STEP = ["train.steps=1", "train.batch_size=1", "exploration.group_size=4", "optimizer.anchors=2",
            "eval.max_examples=6"]  # fmt: skip


def _row(output: str, row: str, task: str) -> list[float]:
    """foreground, bg PSNR and overall of one line of the baseline table."""
    line = next(l for l in output.splitlines() if l.startswith(f"| {row} | {task} |"))
    return [float(v) for v in re.findall(r"-?\d+\.\d+", line)]


def test_baseline_agrees_with_the_base_row_of_a_run(cli, tmp_path):
    assert EVAL_SEED == EvalSettings().seed  # the same fixed noise convention as editrl/engine/evaluation.py
    out = tmp_path / "run"
    result = cli("run", TOY_RECIPE, *ONE_STEP, f"output_dir={out}")
    assert result.exit_code == 0, result.output
    base = json.loads((out / "eval.json").read_text())[0]["means"]
    result = cli("toy", "baseline", "--eval-size", "6")
    assert result.exit_code == 0, result.output
    assert f"noise seed {EVAL_SEED}" in result.output
    for task in ("add", "remove", "replace", "all"):
        fg, bg, overall = _row(result.output, "base editor", task)
        assert abs(overall - base[task]["toy_judge"]) < 0.006, (task, overall, base[task])
        assert abs(fg - base[task]["toy_judge/semantic"]) < 0.006
        assert abs(bg - base[task]["masked_psnr/psnr_db"]) < 0.006
    # another noise seed gives another table: the agreement above is not an accident of the editor
    other = cli("toy", "baseline", "--eval-size", "6", "--seed", "0")
    assert _row(other.output, "base editor", "all") != _row(result.output, "base editor", "all")

    # calibrate: the base editor and the run's trained editor, per task, with the same scores as the run's table
    sheet = tmp_path / "sheet.png"
    result = cli(
        "toy", "calibrate", str(out), "--eval-size", "6", "--group", "2", "--sheet", sheet, "--sheet-size", "2"
    )
    assert result.exit_code == 0, result.output
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = [l for l in result.output.splitlines() if l.startswith("| ")]  # the header and 2 editors × 4 tasks
    assert len(lines) == 1 + 2 * 4 and lines[1].startswith("| base editor | add | 2 |")
    assert any(l.startswith(f"| {out} | all | 6 |") for l in lines)


def test_calibrate_refuses_a_directory_that_is_not_a_run(cli, tmp_path):
    result = cli("toy", "calibrate", str(tmp_path), "--eval-size", "3", "--group", "0")
    assert result.exit_code == 2
    assert "has no recipe.yaml" in result.output and "Traceback" not in result.output


def test_scores_quantiles_and_clamps_by_hand():
    examples = ToyShapes(ToyShapes.Config(eval_size=6)).split("eval")[:6]
    batch = EditBatch.collate(examples)
    # the ground truth: semantic 10 everywhere, background identical (100 dB) → every row at the consistency cap
    truth = row_scores(batch, batch.target)
    assert torch.allclose(truth["semantic"], torch.full((6,), 10.0)) and truth["consistency_cap"].all()
    assert not truth["semantic_floor"].any()
    # a hand-made score set: quantiles of 0..5 at 0.1/0.5/0.9 interpolate linearly to 0.5, 2.5, 4.5
    scores = {k: torch.arange(6.0) for k in ("semantic", "consistency", "overall", "bg_psnr", "noise_std")}
    scores |= {"semantic_floor": torch.tensor([1, 0, 0, 0, 0, 1]).bool(), "consistency_cap": torch.zeros(6).bool()}
    text = markdown(["add"] * 6, {"e": scores})
    assert "| e | add | 6 | 0.50 / 2.50 / 4.50 | 0.50 / 2.50 / 4.50 |" in text
    assert text.splitlines()[-1] == "| e | all | 6 | " + " | ".join(["0.50 / 2.50 / 4.50"] * 4) + " | 2 | 0 | 2.500 |"


def test_noise_spread_is_zero_only_for_an_editor_that_ignores_its_noise():
    examples = ToyShapes(ToyShapes.Config(eval_size=3)).split("eval")[:3]
    backbone = ToyEditor(ToyEditor.Config())
    backbone.load(torch.device("cpu"))
    scores = editor_scores(backbone, examples, steps=2, group=2)
    assert scores["noise_std"].shape == (3,) and float(scores["noise_std"].sum()) > 0
