"""Masked SSIM (docs/method.md §6): closed forms, an independent float64 reference, the mask and the border rule."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from editrl.metrics.ssim import C1, C2, gaussian_filter, gaussian_window, masked_ssim, ssim_map


def _reference_ssim_at(x: np.ndarray, y: np.ndarray, i: int, j: int) -> float:
    """SSIM at pixel (i, j) of ``[C, H, W]`` float64 arrays, written out directly: reflect-pad by 5 (edge not
    repeated, numpy's "reflect"), the 11×11 Gaussian (σ 1.5) weights normalised to one, population moments, per
    channel, then the channel mean."""
    r = np.arange(11) - 5.0
    g = np.exp(-(r**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    values = []
    for xc, yc in zip(x, y, strict=True):
        px = np.pad(xc, 5, mode="reflect")[i : i + 11, j : j + 11]
        py = np.pad(yc, 5, mode="reflect")[i : i + 11, j : j + 11]
        mx, my = (w * px).sum(), (w * py).sum()
        vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
        cxy = (w * (px - mx) * (py - my)).sum()
        values.append(((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2)))
    return float(np.mean(values))


def test_window():
    taps = gaussian_window()
    assert taps.shape == (11,)
    assert taps.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert taps.argmax().item() == 5
    torch.testing.assert_close(taps, taps.flip(0))


def test_filter_is_the_2d_gaussian_convolution():
    # The shifted-slice separable filter equals a 'valid' conv2d with the 11×11 outer-product kernel.
    t = torch.rand(2, 3, 17, 20, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    taps = gaussian_window()
    kernel = (taps[:, None] * taps[None, :]).expand(3, 1, 11, 11)  # [C, 1, 11, 11] depthwise
    expected = F.conv2d(t, kernel, groups=3)  # [2, 3, 7, 10]
    torch.testing.assert_close(gaussian_filter(t), expected, atol=1e-12, rtol=0)


def test_identical_images_give_one():
    x = torch.rand(2, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(2, 1, 20, 24)
    mask[1, :, 5:15, 5:15] = 1
    torch.testing.assert_close(masked_ssim(x, x, mask), torch.ones(2), atol=1e-5, rtol=0)


def test_constant_images_closed_form():
    # Constant images (reflect padding keeps them constant): every local variance and covariance is 0, so the
    # contrast-structure factor is C2 / C2 = 1 and SSIM = (2ab + C1) / (a² + b² + C1) for channel values a, b.
    # Channels (a, b) = (0.5, 0.6), (0.2, 0.2), (0.9, 0.7):
    #   (0.6 + 1e-4) / (0.61 + 1e-4) = 0.983609,  1,  (1.26 + 1e-4) / (1.30 + 1e-4) = 0.969233  → mean 0.984281.
    a = torch.tensor([0.5, 0.2, 0.9]).reshape(1, 3, 1, 1).expand(1, 3, 12, 12)
    b = torch.tensor([0.6, 0.2, 0.7]).reshape(1, 3, 1, 1).expand(1, 3, 12, 12)
    per_channel = [(0.6001 / 0.6101), 1.0, (1.2601 / 1.3001)]
    expected = sum(per_channel) / 3
    assert expected == pytest.approx(0.984281, abs=1e-6)
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 2:6, 3:9] = 1  # irrelevant here: the map is the same constant everywhere
    assert masked_ssim(a, b, mask).item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("pixel", [(8, 9), (0, 0), (2, 15), (15, 3)])
def test_matches_direct_reference_at_one_kept_pixel(pixel):
    # Keep a single pixel: the masked SSIM is then the SSIM map at that pixel. Interior and border pixels (the
    # border ones exercise the reflect padding) against the float64 reference written out above.
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 16, 17, generator=gen, dtype=torch.float64)
    y = (x + 0.15 * torch.randn(1, 3, 16, 17, generator=gen, dtype=torch.float64)).clamp(0, 1)
    mask = torch.ones(1, 1, 16, 17)
    mask[0, 0, pixel[0], pixel[1]] = 0
    expected = _reference_ssim_at(x[0].numpy(), y[0].numpy(), *pixel)
    assert masked_ssim(x.float(), y.float(), mask).item() == pytest.approx(expected, abs=1e-6)


def test_decreases_with_noise():
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(1, 3, 32, 32, generator=gen)
    noise = torch.randn(1, 3, 32, 32, generator=gen)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:20, 10:20] = 1
    scores = [masked_ssim(x, (x + s * noise).clamp(0, 1), mask).item() for s in (0.0, 0.02, 0.1, 0.3)]
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert scores[0] > scores[1] > scores[2] > scores[3]


def test_edit_region_far_from_kept_pixels_does_not_matter():
    gen = torch.Generator().manual_seed(5)
    x, y = torch.rand(2, 1, 3, 40, 40, generator=gen)
    mask = torch.zeros(1, 1, 40, 40)
    mask[..., 5:35, 5:35] = 1  # edit square; its core 11:29 is more than 5 px from every kept pixel
    before = masked_ssim(x, y, mask)
    y_core = y.clone()
    y_core[..., 11:29, 11:29] = torch.rand(1, 3, 18, 18, generator=gen)
    torch.testing.assert_close(masked_ssim(x, y_core, mask), before, rtol=0, atol=1e-6)
    # Documented leak: an edit pixel within the 5-pixel window radius of kept pixels does move the score.
    y_ring = y.clone()
    y_ring[..., 6, 20] = 1 - y_ring[..., 6, 20]
    assert abs(masked_ssim(x, y_ring, mask).item() - before.item()) > 1e-5


def test_empty_keep_and_shapes():
    x = torch.zeros(2, 3, 8, 8)
    y = torch.full((2, 3, 8, 8), 0.5)
    mask = torch.zeros(2, 1, 8, 8)
    mask[0] = 1
    ssim = masked_ssim(x, y, mask)
    assert ssim[0].item() == 1.0  # nothing kept → vacuously perfect
    assert ssim[1].item() == pytest.approx(C1 / (0.25 + C1), abs=1e-6)  # constants 0 and 0.5: (0 + C1)/(0.25 + C1)
    assert math.isnan(masked_ssim(x, y, mask, empty_value=float("nan"))[0].item())
    assert ssim_map(x, y).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="at least 6"):
        masked_ssim(torch.zeros(1, 3, 5, 8), torch.zeros(1, 3, 5, 8), torch.zeros(1, 1, 5, 8))
    with pytest.raises(ValueError, match="mask"):
        masked_ssim(x, y, torch.zeros(2, 3, 8, 8))


def test_row_chunking_does_not_change_the_result():
    gen = torch.Generator().manual_seed(6)
    x, y = torch.rand(2, 9, 3, 12, 12, generator=gen)
    mask = (torch.rand(9, 1, 12, 12, generator=gen) > 0.5).float()
    torch.testing.assert_close(masked_ssim(x, y, mask, rows_per_chunk=2), masked_ssim(x, y, mask, rows_per_chunk=9))
