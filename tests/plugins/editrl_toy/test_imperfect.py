"""Imperfect pretraining targets: partial edits, spill-over and drift, each by hand and in distribution."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from editrl.interfaces import EditBatch
from editrl_toy.dataset import ToyShapes
from editrl_toy.imperfect import ImperfectionConfig, drift_field, gaussian_blur, imperfect_targets


def _batch(n: int) -> EditBatch:
    return EditBatch.collate(ToyShapes(ToyShapes.Config()).split("train")[:n])


def _draws(seed: int, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (u_α, u_β, u_γ) uniforms imperfect_targets draws first from a generator seeded ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(m, generator=gen) for _ in range(3))  # type: ignore[return-value]


def test_defaults_are_the_ground_truth_and_bounds_are_validated():
    b = _batch(6)
    cfg = ImperfectionConfig()
    assert not cfg.active()
    assert imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(0)) is b.target
    for bad in ({"strength_min": 1.5}, {"spill": -0.1}, {"drift": 0.9}, {"spill_radius": 0.0}, {"blur": 1}):
        with pytest.raises(ValidationError):
            ImperfectionConfig(**bad)


def test_blur_kernel_by_hand():
    # σ = 1 → radius 3, weights exp(−k²/2) for k = −3..3: 1, 2·(0.606531 + 0.135335 + 0.011109) → sum 2.505950,
    # centre 1/2.505950 = 0.399050; the 2-D centre weight of a unit impulse is its square, 0.159241; an impulse far
    # from the border keeps its mass (the kernel sums to 1).
    x = torch.zeros(1, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0
    y = gaussian_blur(x, 1.0)
    assert math.isclose(float(y[0, 0, 7, 7]), 0.159241, abs_tol=1e-6)
    assert math.isclose(float(y[0, 0, 7, 8]), 0.399050 * 0.399050 * math.exp(-0.5), abs_tol=1e-6)
    assert math.isclose(float(y.sum()), 1.0, abs_tol=1e-6)
    assert y.shape == x.shape


def test_partial_edit_by_hand():
    # Only the strength knob: inside the mask x = s + α·(t − s) with α = 0.3 + 0.7·u_α, outside x = s.
    b = _batch(4)
    u_alpha, _, _ = _draws(7, 4)
    cfg = ImperfectionConfig(strength_min=0.3)
    out = imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(7))
    alpha = 0.3 + 0.7 * u_alpha  # [4]
    expected = b.source + alpha.view(4, 1, 1, 1) * (b.target - b.source)  # zero change outside the mask already
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(out * (1 - b.mask), b.source * (1 - b.mask))


def test_spill_over_leaves_the_mask_and_decays():
    # Only spill: the mask holds the full edit; the ring just outside the mask moves towards the edit by
    # β·blur(t − s), farther pixels much less.
    b = _batch(6)
    _, u_beta, _ = _draws(3, 6)
    cfg = ImperfectionConfig(spill=1.0, spill_radius=1.5)
    out = imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(3))
    inside = b.mask > 0.5  # [6, 1, 32, 32]
    assert torch.allclose(out * inside, b.target * inside, atol=1e-6)
    change = b.target - b.source
    expected = (b.target + u_beta.view(6, 1, 1, 1) * gaussian_blur(change, 1.5) * ~inside).clamp(0, 1)  # t = s + change
    assert torch.allclose(out, expected, atol=1e-6)
    ring = (gaussian_blur(inside.float(), 1.0) > 0.05) & ~inside  # pixels within about 2 px of the mask
    moved = (out - b.source).abs().amax(1, keepdim=True)  # [6, 1, 32, 32]
    far = ~((gaussian_blur(inside.float(), 3.0) > 1e-3) | inside)
    assert float(moved[ring].mean()) > 0.02
    assert float(moved[far].max()) < 1e-3


def test_drift_is_smooth_and_over_the_whole_image():
    field = drift_field(4, 32, torch.Generator().manual_seed(0))  # [4, 3, 32, 32]
    assert field.shape == (4, 3, 32, 32)
    # bilinear from a 3×3 grid: neighbouring pixels differ by at most 2·max|offset|/15.5 (16 px per grid cell)
    step = (field[..., 1:] - field[..., :-1]).abs().max()
    assert float(step) <= 2 * float(field.abs().max()) / 15.5 + 1e-6
    b = _batch(8)
    cfg = ImperfectionConfig(drift=0.1)
    out = imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(1))
    keep = b.mask < 0.5
    assert float(((out - b.source).abs().amax(1, keepdim=True) > 1e-3)[keep].float().mean()) > 0.8


def test_amplitudes_are_spread_over_their_ranges():
    # Statistical, seed 0, 2000 examples: the mean edit strength inside the mask of U(0.4, 1) is 0.7 (std of the
    # mean 0.173/sqrt(2000) = 0.004; tolerance 0.02); every example gets its own α.
    b = _batch(3)
    n = 2000
    src, tgt, mask = (t.repeat(n // 3 + 1, 1, 1, 1)[:n] for t in (b.source, b.target, b.mask))
    out = imperfect_targets(src, tgt, mask, ImperfectionConfig(strength_min=0.4), torch.Generator().manual_seed(0))
    inside = (mask > 0.5).expand_as(src)
    change = tgt - src
    alpha = ((out - src) * change * inside).sum((1, 2, 3)) / (change.pow(2) * inside).sum((1, 2, 3))  # [n]
    assert abs(float(alpha.mean()) - 0.7) < 0.02
    assert 0.4 - 1e-5 <= float(alpha.min()) and float(alpha.max()) <= 1 + 1e-5
    assert float(alpha.std()) > 0.15


def test_noise_coupled_faults_by_hand():
    # coupling: noise. A noise equal to c on every pixel and channel under the mask of n pixels has
    # z_in = c·3n / sqrt(3n) = c·sqrt(3n); choosing c = 1/sqrt(3n) gives z_in = 1 and α = 0.3 + 0.7·Φ(1)
    # = 0.3 + 0.7·0.8413447 = 0.8889413. Outside the mask the noise is −d with d = 0.5/sqrt(3·n_out):
    # z_out = −0.5, β = 0.8·Φ(−0.5) = 0.8·0.3085375 = 0.2468300. Only the strength and spill knobs, so the drift
    # adds nothing; the output must match s + α·m·(t − s) + β·(1 − m)·blur(t − s).
    from editrl_toy.imperfect import noise_nuisances

    b = _batch(3)
    edit = (b.mask > 0.5).float()  # [3, 1, 32, 32]
    n_in = edit.sum(dim=(1, 2, 3))  # [3]
    n_out = 32 * 32 - n_in
    noise = edit / (3 * n_in).sqrt().view(3, 1, 1, 1) - (1 - edit) * 0.5 / (3 * n_out).sqrt().view(3, 1, 1, 1)
    noise = noise.expand(3, 3, 32, 32)
    cfg = ImperfectionConfig(strength_min=0.3, spill=0.8, spill_radius=1.5, coupling="noise")
    alpha, beta, gamma, _ = noise_nuisances(noise, edit, cfg)
    assert torch.allclose(alpha, torch.full((3,), 0.8889413), atol=1e-6)
    assert torch.allclose(beta, torch.full((3,), 0.2468300), atol=1e-6)
    assert torch.equal(gamma, torch.zeros(3))
    out = imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(0), noise=noise)
    change = b.target - b.source
    expected = b.source + 0.8889413 * edit * change + 0.2468300 * (1 - edit) * gaussian_blur(change, 1.5)
    assert torch.allclose(out, expected.clamp(0, 1), atol=1e-5)
    with pytest.raises(ValueError, match="initial noise"):
        imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(0))


def test_noise_coupled_drift_is_the_noise_low_frequencies():
    # A noise constant k over the image: every 3×3 block mean is k, scaled by sqrt(32²/9) = 10.6667, so the field
    # is 10.6667·k everywhere and the drift adds γ·10.6667·k = 0.05·10.6667·0.01 = 0.0053333 to every pixel.
    from editrl_toy.imperfect import noise_nuisances

    b = _batch(2)
    noise = torch.full((2, 3, 32, 32), 0.01)
    cfg = ImperfectionConfig(drift=0.05, coupling="noise")
    _, _, gamma, field = noise_nuisances(noise, (b.mask > 0.5).float(), cfg)
    assert torch.allclose(field, torch.full_like(field, 0.106667), atol=1e-5)
    out = imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(0), noise=noise)
    assert torch.allclose(out, (b.target + 0.0053333).clamp(0, 1), atol=1e-5)
    # in distribution, over standard-normal noise, Φ(z_in) is uniform: α's mean is 0.3 + 0.7/2 = 0.65 (± 0.01 at
    # 4,000 draws: the std of the mean is 0.7·sqrt(1/12)/sqrt(4000) = 0.0032)
    g = torch.Generator().manual_seed(0)
    edit = torch.zeros(4000, 1, 32, 32)
    edit[:, :, 4:14, 9:19] = 1
    alpha, _, _, _ = noise_nuisances(torch.randn(4000, 3, 32, 32, generator=g), edit, ImperfectionConfig(
        strength_min=0.3, coupling="noise"))
    assert abs(float(alpha.mean()) - 0.65) < 0.01


def test_drift_radius_confines_the_drift_to_a_halo_around_the_edit():
    # drift_radius r = 1: the halo is the mask blurred by a Gaussian of σ = 1 px (support ceil(3σ) = 3 px), zeroed
    # inside the mask and scaled to 1 at its peak. A constant noise 0.01 makes the coupled field 0.106667 everywhere
    # (see above), so the drift adds 0.05·0.106667 = 0.0053333 at the halo's peak (just outside the mask), nothing
    # inside the mask and nothing more than 3 px from it.
    b = _batch(1)
    noise = torch.full((1, 3, 32, 32), 0.01)
    cfg = ImperfectionConfig(drift=0.05, drift_radius=1.0, coupling="noise")
    out = imperfect_targets(b.source, b.target, b.mask, cfg, torch.Generator().manual_seed(0), noise=noise)
    added = (out - b.target).abs().amax(dim=1, keepdim=True)  # [1, 1, 32, 32] (toy colours stay inside [0.006, 0.994])
    edit = b.mask > 0.5
    assert math.isclose(float(added.max()), 0.0053333, abs_tol=1e-6)
    assert float(added[edit].max()) == 0.0
    near = gaussian_blur(edit.float(), 1.0) > 0  # [1, 1, 32, 32]: within 3 px of the mask
    assert float(added[~near].max()) == 0.0 and bool((~near).any())
