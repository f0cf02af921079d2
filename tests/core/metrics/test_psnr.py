"""Masked PSNR (docs/method.md §6): hand-computed values, the mask, the cap and the empty-keep rule."""

import math

import pytest
import torch

from editrl.metrics.psnr import PSNR_CAP_DB, masked_mse, masked_psnr, normalised_psnr


def _pair() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 2×2 RGB pair; the bottom-right pixel is the edit region.

    x = 0 everywhere. y differs from x by 0.1 in all 3 channels at the kept pixel (0, 0) and by 0.9 at the edit
    pixel (1, 1); the other two kept pixels match.
    """
    x = torch.zeros(1, 3, 2, 2)
    y = torch.zeros(1, 3, 2, 2)
    y[0, :, 0, 0] = 0.1
    y[0, :, 1, 1] = 0.9
    mask = torch.zeros(1, 1, 2, 2)
    mask[0, 0, 1, 1] = 1.0
    return x, y, mask


def test_hand_computed_psnr():
    # Σ keep·(x − y)² = 3 channels · 0.1² = 0.03 (the 0.9 error sits in the edit region and is excluded);
    # C · Σ keep = 3 · 3 kept pixels = 9  →  MSE = 0.03 / 9 = 1/300  →  PSNR = 10·log10(300) = 24.7712 dB.
    x, y, mask = _pair()
    mse, keep_weight = masked_mse(x, y, mask)
    assert mse.item() == pytest.approx(1 / 300, rel=1e-5)
    assert keep_weight.item() == 3.0
    assert masked_psnr(x, y, mask).item() == pytest.approx(10 * math.log10(300), abs=1e-4)
    assert masked_psnr(x, y, mask).item() == pytest.approx(24.7712, abs=1e-4)


def test_constant_offset_full_keep():
    # Offset δ everywhere, nothing masked: MSE = δ², PSNR = −20·log10 δ; δ = 0.05 → 26.0206 dB.
    x = torch.full((2, 3, 5, 7), 0.3)
    y = x + 0.05
    psnr = masked_psnr(x, y, torch.zeros(2, 1, 5, 7))
    assert psnr.shape == (2,)
    torch.testing.assert_close(psnr, torch.full((2,), -20 * math.log10(0.05)), atol=1e-3, rtol=0)


def test_edit_region_does_not_matter():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 16, 16, generator=gen)
    y = torch.rand(3, 3, 16, 16, generator=gen)
    mask = torch.zeros(3, 1, 16, 16)
    mask[:, :, 4:9, 2:14] = 1.0
    before = masked_psnr(x, y, mask)
    y2 = torch.where(mask.bool(), torch.rand(3, 3, 16, 16, generator=gen), y)  # new edit-region content only
    torch.testing.assert_close(masked_psnr(x, y2, mask), before, rtol=0, atol=0)
    # ... while a change in the kept region does change it.
    y3 = y.clone()
    y3[:, :, 0, 0] += 0.5
    assert not torch.allclose(masked_psnr(x, y3, mask), before)


def test_zero_fill_relation():
    # CompBench's zero-fill PSNR over all N pixels = masked PSNR + 10·log10(N / N_keep) (notes/eval_metrics.md §4.4).
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 1, 3, 8, 8, generator=gen)  # two [1, 3, 8, 8] images
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :3, :] = 1.0  # 24 of 64 pixels edited → N_keep = 40
    keep = 1 - mask
    zero_fill = 10 * torch.log10(1 / ((x * keep - y * keep) ** 2).mean())
    masked = masked_psnr(x, y, mask)
    assert zero_fill.item() == pytest.approx(masked.item() + 10 * math.log10(64 / 40), abs=1e-4)


def test_cap_at_identical_and_tiny_error():
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    mask = torch.zeros(2, 1, 4, 4)
    assert masked_psnr(x, x, mask).tolist() == [PSNR_CAP_DB, PSNR_CAP_DB]
    # An error of 1e-6 (MSE 1e-12) would be 120 dB: capped at 100.
    assert masked_psnr(x, x + 1e-6, mask).max().item() == pytest.approx(PSNR_CAP_DB)


def test_empty_keep_rows():
    # Row 0: the mask covers everything → nothing to preserve → empty_value (default: the cap). Row 1: normal.
    x = torch.zeros(2, 3, 4, 4)
    y = torch.full((2, 3, 4, 4), 0.1)  # MSE 0.01 → 20 dB where there are kept pixels
    mask = torch.zeros(2, 1, 4, 4)
    mask[0] = 1.0
    psnr = masked_psnr(x, y, mask)
    assert psnr[0].item() == PSNR_CAP_DB
    assert psnr[1].item() == pytest.approx(20.0, abs=1e-4)
    nan_rule = masked_psnr(x, y, mask, empty_value=float("nan"))
    assert math.isnan(nan_rule[0].item()) and nan_rule[1].item() == pytest.approx(20.0, abs=1e-4)


def test_normalised_psnr_clamps():
    torch.testing.assert_close(
        normalised_psnr(torch.tensor([-3.0, 0.0, 20.0, 40.0, 100.0])), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0])
    )


def test_shape_errors():
    with pytest.raises(ValueError, match="mask"):
        masked_psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="same shape"):
        masked_psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5), torch.zeros(1, 1, 4, 4))
