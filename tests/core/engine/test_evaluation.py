"""Held-out evaluation: invalid rows left out of the means; producing edits and scoring them apart, with images from
anywhere (hand-computed PSNR), independent of batching."""

from __future__ import annotations

import math

import pytest
import torch

from editrl.engine.evaluation import evaluate, evaluate_with_edits, fixed_noise, sample_edits, score_edits
from editrl.errors import EditrlError
from editrl.interfaces import EditExample, Reward, RewardOutput
from editrl.testing.world import ToyWorld


class EveryOtherRow(Reward):
    """Scores row r as r; rows with odd r are invalid (NaN value, reason "unparseable")."""

    name = "every_other_row"
    requires = frozenset({"images"})

    def score(self, inputs):
        M = inputs.images.shape[0]
        rows = torch.arange(M, dtype=torch.float32)  # [M]
        valid = rows % 2 == 0  # [M]
        values = torch.where(valid, rows, torch.full_like(rows, math.nan))
        return RewardOutput(values=values, valid=valid, reasons=[None if v else "unparseable" for v in valid.tolist()])


def test_invalid_rows_are_left_out_of_the_means():
    world = ToyWorld()
    examples = list(world.dataset.split("eval"))[:6]
    metric = EveryOtherRow(EveryOtherRow.Config())
    # batch_size 3: rows are numbered per batch, 0 1 2 | 0 1 2 → valid values 0, 2 | 0, 2, mean 1; 2 of 6 invalid
    result = evaluate("base", world.backbone, world.solver, [metric], examples, seed=0, batch_size=3,
                      device=torch.device("cpu"))
    assert result.counts["all"] == 6
    assert result.means["all"]["every_other_row"] == 1.0
    assert result.means["all"]["every_other_row/invalid_fraction"] == 2 / 6


# -- producing and scoring edits separately ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world():
    return ToyWorld()

def _flat_example(i: int, task: str) -> EditExample:
    """A grey 8×8 source, its left half the edit region (4 of 8 columns)."""
    mask = torch.zeros(1, 8, 8)
    mask[..., :4] = 1
    return EditExample(id=str(i), source=torch.full((3, 8, 8), 0.5), instruction="x", mask=mask, task=task)


def test_score_edits_gives_the_hand_computed_masked_psnr(world):
    metric = world.make("reward", "masked_psnr")  # scale_db 40: value = clamp(PSNR / 40, 0, 1)
    examples = [_flat_example(0, "add"), _flat_example(1, "remove")]
    # edit 0 is off by 0.1 everywhere: MSE over the kept half = 0.1² = 0.01 → PSNR = 10·log10(1 / 0.01) = 20 dB;
    # edit 1 by 0.01 in the kept half only (the edit region differs by 0.4, which is not counted): MSE = 1e-4 → 40 dB
    edit1 = examples[1].source.clone()
    edit1[..., 4:] += 0.01
    edit1[..., :4] = 0.9
    edits = [examples[0].source + 0.1, edit1]
    result = score_edits("other", [metric], examples, edits, batch_size=1, device=torch.device("cpu"))
    assert result.label == "other" and result.counts == {"add": 1, "remove": 1, "all": 2, "mean_of_tasks": 2}
    assert result.means["add"]["masked_psnr/psnr_db"] == pytest.approx(20.0, abs=1e-4)
    assert result.means["remove"]["masked_psnr/psnr_db"] == pytest.approx(40.0, abs=1e-3)
    assert result.means["all"]["masked_psnr/psnr_db"] == pytest.approx(30.0, abs=1e-3)  # (20 + 40) / 2
    assert result.means["all"]["masked_psnr"] == pytest.approx((0.5 + 1.0) / 2, abs=1e-5)  # 20/40 and 40/40


def test_the_mean_over_task_types_weighs_every_task_alike(world):
    metric = world.make("reward", "masked_psnr")
    examples = [_flat_example(0, "add"), _flat_example(1, "add"), _flat_example(2, "remove")]
    # both adds are off by 0.1 (20 dB, as above), the remove by 0.01 (40 dB). Pooled over rows: (20 + 20 + 40) / 3
    # = 26.67 dB; over task types: (mean add 20 + mean remove 40) / 2 = 30 dB, CompBench's "local editing" number
    edits = [examples[0].source + 0.1, examples[1].source + 0.1, examples[2].source + 0.01]
    result = score_edits("other", [metric], examples, edits, batch_size=2, device=torch.device("cpu"))
    assert result.means["all"]["masked_psnr/psnr_db"] == pytest.approx(80 / 3, abs=1e-3)
    assert result.means["mean_of_tasks"]["masked_psnr/psnr_db"] == pytest.approx(30.0, abs=1e-3)
    assert result.counts["mean_of_tasks"] == 2  # task types averaged
    one_task = score_edits("other", [metric], examples[:2], edits[:2], batch_size=2, device=torch.device("cpu"))
    assert "mean_of_tasks" not in one_task.means  # a single task type has no separate task mean


def test_score_edits_resizes_edits_to_their_source_and_says_which(world):
    metric = world.make("reward", "masked_psnr")
    examples = [_flat_example(0, "add"), _flat_example(1, "add")]
    # a constant 0.6 image stays 0.6 under any resize: MSE 0.1² = 0.01 → 20 dB, as at the source's size
    edits = [torch.full((3, 16, 16), 0.6), torch.full((3, 8, 8), 0.6)]
    resized: list[int] = []
    result = score_edits("x", [metric], examples, edits, batch_size=2, device=torch.device("cpu"), resized=resized)
    assert resized == [0]
    assert result.means["all"]["masked_psnr/psnr_db"] == pytest.approx(20.0, abs=1e-3)


def test_scoring_the_samplers_edits_equals_the_evaluation(world):
    """Producing edits and scoring them apart gives the evaluation's numbers exactly (image-only metrics)."""
    examples = list(world.dataset.split("eval"))[:5]
    metrics = [world.make("reward", n) for n in ("toy_judge", "masked_psnr", "masked_ssim")]
    cpu = torch.device("cpu")
    evaluated, edits = evaluate_with_edits("base", world.backbone, world.solver, metrics, examples, seed=3,
                                           batch_size=2, device=cpu, keep=5)
    scored = score_edits("base", metrics, examples, list(edits), batch_size=3, device=cpu)
    assert scored.means == evaluated.means and scored.counts == evaluated.counts


def test_sample_edits_is_independent_of_batching(world):
    examples = list(world.dataset.split("eval"))[:4]
    noise = fixed_noise(world.backbone, examples, seed=5)  # [4, 3, 32, 32]
    one = [s.images for s in sample_edits(world.backbone, world.solver, examples, noise, batch_size=1,
                                          device=torch.device("cpu"))]
    all_ = [s.images for s in sample_edits(world.backbone, world.solver, examples, noise, batch_size=4,
                                           device=torch.device("cpu"))]
    assert torch.allclose(torch.cat(one), all_[0], atol=1e-5)


def test_metrics_needing_the_sampler_cannot_score_outside_images(world):
    acd = world.make("reward", "acd")  # needs attention maps
    with pytest.raises(EditrlError, match="acd \\(needs attention\\) cannot score images produced elsewhere"):
        score_edits("x", [acd], [_flat_example(0, "add")], [torch.zeros(3, 8, 8)], batch_size=1,
                    device=torch.device("cpu"))
