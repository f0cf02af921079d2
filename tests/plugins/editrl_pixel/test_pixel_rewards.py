"""Pixel preservation rewards (docs/method.md §6): values, details, the source as reference, configs and registration."""

import pydantic
import pytest
import torch

import editrl_pixel
from editrl.interfaces import RewardInputs
from editrl.registry import Registry
from editrl_pixel.rewards import CocoEditSimilarityReward, MaskedPsnrReward, MaskedSsimReward

SSIM_05_06 = 0.6001 / 0.6101  # constants 0.5 vs 0.6: (2·0.3 + C1) / (0.25 + 0.36 + C1), see test_pixel_ssim.py


def _inputs(images, source, mask, **extra) -> RewardInputs:
    return RewardInputs(tasks=["edit"] * images.shape[0], images=images, source=source, mask=mask, **extra)


def _constant_rows():
    """Row 0: sample 0.5 vs source 0.6 everywhere (MSE 0.01 → 20 dB). Row 1: identical to the source."""
    source = torch.full((2, 3, 8, 8), 0.6)
    images = source.clone()
    images[0] = 0.5
    mask = torch.zeros(2, 1, 8, 8)
    return images, source, mask


def test_masked_psnr_reward():
    images, source, mask = _constant_rows()
    out = MaskedPsnrReward(MaskedPsnrReward.Config()).score(_inputs(images, source, mask))
    # psnr_db = (20, 100 cap); value = clamp(psnr / 40, 0, 1) = (0.5, 1).
    torch.testing.assert_close(out.details["psnr_db"], torch.tensor([20.0, 100.0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(out.values, torch.tensor([0.5, 1.0]), atol=1e-6, rtol=0)
    assert out.values.dtype == torch.float32
    assert out.counters == {"empty_keep": 0.0}
    scaled = MaskedPsnrReward(MaskedPsnrReward.Config(scale_db=25.0)).score(_inputs(images, source, mask))
    torch.testing.assert_close(scaled.values, torch.tensor([0.8, 1.0]), atol=1e-6, rtol=0)  # 20 / 25


def test_masked_ssim_reward():
    images, source, mask = _constant_rows()
    out = MaskedSsimReward(MaskedSsimReward.Config()).score(_inputs(images, source, mask))
    torch.testing.assert_close(out.values, torch.tensor([SSIM_05_06, 1.0]), atol=1e-6, rtol=0)


def test_cocoedit_similarity_reward():
    images, source, mask = _constant_rows()
    out = CocoEditSimilarityReward(CocoEditSimilarityReward.Config()).score(_inputs(images, source, mask))
    # Row 0: 0.65 · 0.5 + 0.35 · 0.983609 = 0.669263. Row 1: 0.65 · 1 + 0.35 · 1 = 1.
    torch.testing.assert_close(out.values, torch.tensor([0.65 * 0.5 + 0.35 * SSIM_05_06, 1.0]), atol=1e-6, rtol=0)
    assert out.values[0].item() == pytest.approx(0.669263, abs=1e-5)
    assert set(out.details) == {"psnr_norm", "ssim", "psnr_db"}
    torch.testing.assert_close(out.details["psnr_norm"], torch.tensor([0.5, 1.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.details["ssim"], torch.tensor([SSIM_05_06, 1.0]), atol=1e-6, rtol=0)
    logged = out.log("sim")
    assert set(logged) == {"sim/mean", "sim/psnr_norm", "sim/ssim", "sim/psnr_db", "sim/empty_keep"}


def test_reference_is_the_source_not_the_target():
    images, source, mask = _constant_rows()
    reward = CocoEditSimilarityReward(CocoEditSimilarityReward.Config())
    base = reward.score(_inputs(images, source, mask)).values
    # A target equal to the sample would give a perfect score if it were the reference; it is ignored.
    with_target = reward.score(_inputs(images, source, mask, target=images.clone())).values
    torch.testing.assert_close(with_target, base, rtol=0, atol=0)
    # Comparing against the sample itself as the "source" gives the perfect score: the source is what counts.
    torch.testing.assert_close(reward.score(_inputs(images, images, mask)).values, torch.ones(2), atol=1e-6, rtol=0)


def test_edit_region_is_free_and_empty_keep_is_counted():
    images, source, mask = _constant_rows()
    mask[0, :, 2:6, 2:6] = 1
    images2 = images.clone()
    images2[0, :, 2:6, 2:6] = 0.0  # paint inside the edit region only
    psnr = MaskedPsnrReward(MaskedPsnrReward.Config())
    torch.testing.assert_close(
        psnr.score(_inputs(images2, source, mask)).values, psnr.score(_inputs(images, source, mask)).values
    )
    mask[1] = 1  # row 1: nothing to keep
    out = CocoEditSimilarityReward(CocoEditSimilarityReward.Config()).score(_inputs(images, source, mask))
    assert out.counters == {"empty_keep": 1.0}
    assert out.values[1].item() == pytest.approx(1.0)


def test_missing_inputs_and_configs():
    images, source, mask = _constant_rows()
    with pytest.raises(ValueError, match="mask"):
        MaskedSsimReward(MaskedSsimReward.Config()).score(_inputs(images, source, None))
    with pytest.raises(pydantic.ValidationError):
        CocoEditSimilarityReward.Config(psnr_weight=1.5)
    with pytest.raises(pydantic.ValidationError):
        MaskedPsnrReward.Config(scale_db=0.0)
    with pytest.raises(pydantic.ValidationError):
        MaskedPsnrReward.Config(unknown=1)
    assert MaskedPsnrReward.Config().weight == 1.0


def test_registration():
    registry = Registry()
    editrl_pixel.editrl_register_components(registry)
    assert registry.names("reward") == ["cocoedit_similarity", "masked_psnr", "masked_ssim"]
    for cls in registry.components("reward"):
        assert cls.requires == frozenset({"images", "source", "mask"})
        assert cls.summary()
