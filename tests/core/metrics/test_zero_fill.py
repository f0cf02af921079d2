"""CompBench's zero-fill PSNR and SSIM against hand-computed values and against the true masked forms."""

from __future__ import annotations

import math

import pytest
import torch

from editrl.metrics.psnr import masked_psnr, zero_fill_psnr
from editrl.metrics.ssim import masked_ssim, ssim_map, zero_fill_ssim


def constructed_pair():
    """8×8 RGB pair: background differs by exactly 0.1 everywhere, the 4×4 edit square (top-left) by 0.5."""
    y = torch.full((1, 3, 8, 8), 0.4)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :4] = 1.0  # 16 of 64 pixels are the edit region
    x = y + 0.1
    x[..., :4, :4] = 0.9
    return x, y, mask


def test_zero_fill_psnr_hand_computed():
    x, y, mask = constructed_pair()
    # masked: MSE over the 48 kept pixels × 3 channels = 0.1² = 0.01 → PSNR = 10·log10(1/0.01) = 20 dB.
    # zero-fill: the hole contributes 0 error but still counts: MSE = 0.01·48/64 = 0.0075 →
    # PSNR = 10·log10(1/0.0075) = 21.2494 dB = 20 + 10·log10(64/48).
    assert float(masked_psnr(x, y, mask)[0]) == pytest.approx(20.0, abs=1e-4)
    assert float(zero_fill_psnr(x, y, mask)[0]) == pytest.approx(21.2494, abs=1e-4)
    assert float(zero_fill_psnr(x, y, mask)[0] - masked_psnr(x, y, mask)[0]) == pytest.approx(
        10 * math.log10(64 / 48), abs=1e-4
    )


def test_zero_fill_psnr_ignores_the_edit_region_and_caps_a_perfect_background():
    x, y, mask = constructed_pair()
    x2 = x.clone()
    x2[..., :4, :4] = 0.0  # anything inside the mask: same zero-filled images
    assert torch.equal(zero_fill_psnr(x, y, mask), zero_fill_psnr(x2, y, mask))
    same_bg = y.clone()
    same_bg[..., :4, :4] = 1.0
    assert float(zero_fill_psnr(same_bg, y, mask)[0]) == 100.0  # MSE 0 → the 100 dB cap


def test_zero_fill_ssim_on_constants_and_its_definition():
    # Constants a = 0.5, b = 0.4, empty mask: σ's are 0, so SSIM = (2ab + C1)/(a² + b² + C1) · C2/C2
    # = (0.4 + 1e-4)/(0.41 + 1e-4) = 0.975616 at every pixel.
    a, b = torch.full((1, 3, 12, 12), 0.5), torch.full((1, 3, 12, 12), 0.4)
    empty = torch.zeros(1, 1, 12, 12)
    assert float(zero_fill_ssim(a, b, empty)[0]) == pytest.approx(0.4001 / 0.4101, abs=1e-6)
    # With a mask: the ordinary full-image SSIM of the zero-filled pair (mean of the map over pixels and channels).
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:10, 3:12] = 1.0
    keep = 1 - mask
    expected = ssim_map(x * keep, y * keep).mean(dim=(1, 2, 3))
    assert torch.allclose(zero_fill_ssim(x, y, mask), expected, atol=1e-6)


def test_an_untouched_background_is_perfect_zero_filled_but_not_masked():
    # The background is identical, only the edit region differs. Zero-fill: x·keep = y·keep exactly, SSIM = 1.
    # Masked: the windows of kept pixels within 5 px of the mask see the edit, so SSIM < 1.
    g = torch.Generator().manual_seed(1)
    y = torch.rand(1, 3, 24, 24, generator=g)
    mask = torch.zeros(1, 1, 24, 24)
    mask[..., 8:16, 8:16] = 1.0
    x = y.clone()
    x[..., 8:16, 8:16] = torch.rand(1, 3, 8, 8, generator=g)
    assert float(zero_fill_ssim(x, y, mask)[0]) == pytest.approx(1.0, abs=1e-6)
    assert float(masked_ssim(x, y, mask)[0]) < 0.99
