"""CompBench's background PSNR / SSIM / LPIPS metrics: both conventions named and hand-checked, rows without a
background left out, LPIPS through the real lpips package offline (a seeded torch hub cache) and its offline error."""

from __future__ import annotations

import urllib.error

import lpips
import pytest
import torch

from editrl.errors import ResourceError
from editrl.interfaces import RewardInputs
from editrl.metrics.ssim import ssim_map, zero_fill_ssim
from editrl.testing import check_component
from editrl_compbench.background import CompBenchLpips, CompBenchPsnr, CompBenchSsim


def pair_inputs() -> RewardInputs:
    """Row 0: background off by exactly 0.1 (edit square 8×8 of 16×16 off by 0.5); row 1: mask covers everything."""
    source = torch.full((2, 3, 16, 16), 0.4)
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, :8, :8] = 1.0  # 64 of 256 pixels
    mask[1] = 1.0
    images = source + 0.1
    images[0, :, :8, :8] = 0.9
    return RewardInputs(tasks=["add", "remove"], images=images, source=source, mask=mask)


def test_psnr_names_both_conventions_and_drops_rows_without_background():
    out = CompBenchPsnr(CompBenchPsnr.Config()).score(pair_inputs())
    # row 0, masked: MSE over the 192 kept pixels = 0.1² = 0.01 → 20 dB; zero-fill: MSE = 0.01·192/256 = 0.0075
    # → 10·log10(1/0.0075) = 21.2494 dB (= 20 + 10·log10(256/192)). The reward's value is the official zero-fill one.
    assert float(out.details["psnr_masked"][0]) == pytest.approx(20.0, abs=1e-4)
    assert float(out.details["psnr_zero_fill"][0]) == pytest.approx(21.2494, abs=1e-4)
    assert float(out.values[0]) == float(out.details["psnr_zero_fill"][0])
    # row 1 has no background: invalid, with its reason, left out of every mean
    assert out.valid.tolist() == [True, False] and out.reasons == [None, "no_background"]
    assert out.log("compbench_psnr")["compbench_psnr/psnr_masked"] == pytest.approx(20.0, abs=1e-4)


def test_ssim_names_both_conventions():
    inputs = pair_inputs()
    inputs.images[0, :, :8, :8] = 0.5  # the edit region off by 0.1 too: x ≡ 0.5 and y ≡ 0.4 everywhere
    out = CompBenchSsim(CompBenchSsim.Config()).score(inputs)
    assert set(out.details) == {"ssim_zero_fill", "ssim_masked"} and out.valid.tolist() == [True, False]
    # masked: constant images, so σ's are 0 and the map is (2·0.5·0.4 + C1)/(0.5² + 0.4² + C1) = 0.4001/0.4101
    # at every pixel (reflect borders keep constants constant), whatever the mask.
    assert float(out.details["ssim_masked"][0]) == pytest.approx(0.4001 / 0.4101, abs=1e-6)
    # zero-fill: the full-image SSIM of x·keep against y·keep (the hole is 0 in both, its edges are structure)
    keep = 1 - inputs.mask[:1]
    assert float(out.values[0]) == pytest.approx(float(zero_fill_ssim(inputs.images[:1], inputs.source[:1],
                                                                       inputs.mask[:1])[0]), abs=1e-7)
    assert float(out.values[0]) == pytest.approx(float(ssim_map(inputs.images[:1] * keep,
                                                                inputs.source[:1] * keep).mean()), abs=1e-6)
    assert float(out.values[0]) != pytest.approx(float(out.details["ssim_masked"][0]), abs=1e-3)


def test_lpips_zero_fill_is_lpips_of_the_filled_images(random_squeezenet):
    g = torch.Generator().manual_seed(0)
    source = torch.rand(3, 3, 32, 32, generator=g)
    images = (source + 0.2 * torch.rand(3, 3, 32, 32, generator=g)).clamp(0, 1)
    mask = torch.zeros(3, 1, 32, 32)
    mask[:, :, 8:20, 4:24] = 1.0
    metric = CompBenchLpips(CompBenchLpips.Config(batch_size=2))
    metric.load(torch.device("cpu"))
    out = metric.score(RewardInputs(tasks=["add"] * 3, images=images, source=source, mask=mask))
    keep = 1 - mask
    reference = lpips.LPIPS(net="squeeze", verbose=False).eval()
    with torch.no_grad():
        expected = reference(2 * images * keep - 1, 2 * source * keep - 1).flatten()  # eval_all.py's inputs
    assert torch.allclose(out.values, expected, atol=1e-6) and torch.equal(out.values, out.details["lpips_zero_fill"])
    assert bool((out.details["lpips_masked"] > 0).all())
    # identical backgrounds: zero-fill is exactly 0 whatever the edit region holds; the masked map still sees it
    same = source.clone()
    same[:, :, 8:20, 4:24] = 1.0 - same[:, :, 8:20, 4:24]
    out = metric.score(RewardInputs(tasks=["add"] * 3, images=same, source=source, mask=mask))
    assert torch.allclose(out.values, torch.zeros(3), atol=1e-7)
    assert bool((out.details["lpips_masked"] > 0).all())


def test_lpips_keeps_the_reward_contract(random_squeezenet):
    passed = check_component(CompBenchLpips, {"net": "squeeze"})
    assert "config.documented" in passed


def test_lpips_offline_says_what_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    metric = CompBenchLpips(CompBenchLpips.Config())
    with pytest.raises(ResourceError) as err:
        metric.load(torch.device("cpu"))
    message = str(err.value)
    assert "squeezenet1_1-b8a52dc0.pth" in message and str(tmp_path / "empty" / "hub" / "checkpoints") in message
