"""toy_judge: ground truth scores 10, an unedited image scores 0 on semantics, a hand-computed case."""

from __future__ import annotations

import math

import torch

from editrl.interfaces import EditBatch, RewardInputs
from editrl_toy.dataset import ToyShapes
from editrl_toy.judge import ToyJudge
from editrl.metrics import masked_psnr


def _inputs(images, batch: EditBatch) -> RewardInputs:
    return RewardInputs(tasks=batch.tasks, images=images, source=batch.source, mask=batch.mask, target=batch.target)


def _judge() -> ToyJudge:
    return ToyJudge(ToyJudge.Config())


def test_declarations():
    from editrl.plugin_manager import build_registry, get_plugin_manager

    assert build_registry(get_plugin_manager()).get("reward", "toy_judge") is ToyJudge
    assert ToyJudge.requires == frozenset({"images", "source", "mask", "target"})
    assert "ground truth" in ToyJudge.__doc__ or "ground-truth" in ToyJudge.__doc__


def test_ground_truth_scores_ten_and_unedited_scores_zero():
    batch = EditBatch.collate(ToyShapes(ToyShapes.Config()).split("eval")[:12])
    gt = _judge().score(_inputs(batch.target, batch))
    assert torch.allclose(gt.values, torch.full((12,), 10.0))
    assert set(gt.details) == {"semantic", "consistency"}
    unedited = _judge().score(_inputs(batch.source, batch))
    assert torch.allclose(unedited.details["semantic"], torch.zeros(12))
    assert torch.allclose(unedited.details["consistency"], torch.full((12,), 10.0))
    assert torch.allclose(unedited.values, torch.zeros(12))
    assert unedited.counters["degenerate"] == 0


def test_hand_computed_case():
    # 3×2×2 images, the top-left pixel is the edit region (mask 1), the other three pixels are kept.
    src = torch.zeros(1, 3, 2, 2)
    tgt = src.clone()
    tgt[0, :, 0, 0] = 1.0
    mask = torch.zeros(1, 1, 2, 2)
    mask[0, 0, 0, 0] = 1.0
    x = src.clone()
    x[0, :, 0, 0] = 0.5  # half-way to the target inside the mask
    x[0, :, 1, 1] = 0.1  # a small change in the background
    # semantic: mse_in(x, t) = 3·0.5² / (3·1) = 0.25, mse_in(s, t) = 3·1² / 3 = 1
    #           → 10·(1 − sqrt(0.25 / 1)) = 5 (half-way to the target scores half)
    # consistency: mse_out = 3·0.1² / (3·3) = 1/300 → PSNR = 10·log10(300) = 24.7712 dB → 10·24.7712/40 = 6.1928
    # overall = sqrt(5 · 6.1928) = 5.5645
    psnr = 10 * math.log10(300)
    out = _judge().score(RewardInputs(tasks=["add"], images=x, source=src, mask=mask, target=tgt))
    assert math.isclose(float(out.details["semantic"][0]), 5.0, rel_tol=1e-5)
    assert math.isclose(float(out.details["consistency"][0]), 10 * psnr / 40, rel_tol=1e-5)
    assert math.isclose(float(out.values[0]), math.sqrt(5.0 * 10 * psnr / 40), rel_tol=1e-5)
    assert math.isclose(float(out.values[0]), 5.5645, abs_tol=1e-4)
    assert math.isclose(float(masked_psnr(x, src, mask)[0]), psnr, rel_tol=1e-5)
    # overshooting twice as far from the target as the source was scores 0, not negative
    far = src.clone()
    far[0, :, 0, 0] = -1.0
    assert float(_judge().score(RewardInputs(["add"], far, None, src, mask, tgt)).details["semantic"][0]) == 0.0


def test_degenerate_rows_are_counted_not_crashing():
    src = torch.rand(2, 3, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[1] = 1.0  # row 0: empty mask; row 1: full mask (no background)
    out = _judge().score(RewardInputs(tasks=["add"] * 2, images=src, source=src, mask=mask, target=src))
    assert torch.isfinite(out.values).all()
    assert out.counters == {"degenerate": 2.0, "empty_keep": 1.0, "semantic_floor": 0.0, "consistency_cap": 2.0}
    assert torch.allclose(out.values, torch.full((2,), 10.0))


def test_clamp_counters_count_the_rows_a_clamp_holds():
    # One 2×2 image per row, the top-left pixel is the edit region; source 0, target 1 there.
    src = torch.zeros(3, 3, 2, 2)
    tgt = src.clone()
    tgt[:, :, 0, 0] = 1.0
    mask = torch.zeros(3, 1, 2, 2)
    mask[:, 0, 0, 0] = 1.0
    x = src.clone()
    x[0, :, 0, 0] = -0.5  # row 0: 1.5 from the target vs 1 for the source → progress 1 − 1.5 = −0.5, floored at 0
    x[0, :, 1, 1] = 0.5  # background mse 3·0.25 / 9 = 1/12 → PSNR 10.79 dB, below the scale
    x[1, :, 0, 0] = 0.5  # row 1: semantic 5; background identical → PSNR 100 dB > 40 dB, capped
    x[2, :, 0, 0] = 1.0  # row 2: semantic 10 (progress exactly 1, not a clamp)
    x[2, :, 1, 1] = 0.01  # background mse 3·1e-4 / 9 → PSNR 10·log10(30000) = 44.77 dB > 40 dB, capped;
    out = _judge().score(RewardInputs(["add"] * 3, x, None, src, mask, tgt))
    assert out.counters["semantic_floor"] == 1.0 and out.counters["consistency_cap"] == 2.0
    assert torch.allclose(out.details["semantic"], torch.tensor([0.0, 5.0, 10.0]))
    rows = _judge().rows(RewardInputs(["add"] * 3, x, None, src, mask, tgt))
    assert rows["semantic_floor"].tolist() == [True, False, False]
    assert rows["consistency_cap"].tolist() == [False, True, True]
    assert math.isclose(float(rows["psnr"][0]), 10 * math.log10(12), rel_tol=1e-5)
    # with a scale of 50 dB, row 2 (44.77 dB) is no longer capped and scores 10·44.77/50
    wide = ToyJudge(ToyJudge.Config(psnr_scale=50.0)).score(RewardInputs(["add"] * 3, x, None, src, mask, tgt))
    assert wide.counters["consistency_cap"] == 1.0
    assert math.isclose(float(wide.details["consistency"][2]), 10 * 10 * math.log10(30000) / 50, rel_tol=1e-5)
