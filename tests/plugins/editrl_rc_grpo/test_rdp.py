import pytest
import torch

from editrl_rc_grpo.rdp import RegionDecoupledPerturbation, coefficient_map

SHAPE = (4, 4, 4)  # (C, h, w)


def half_mask(n: int) -> torch.Tensor:
    mask = torch.zeros(n, 1, 4, 4)
    mask[:, :, :, :2] = 1  # the left half is the edit region
    return mask


def rdp(**kw) -> RegionDecoupledPerturbation:
    return RegionDecoupledPerturbation(RegionDecoupledPerturbation.Config(**kw))


def test_coefficient_map():
    # S = σ_in·M + σ_out·(1 − M): 0.3 on the one edit cell, 0.02 everywhere else (the mask arrives dilated, if at
    # all, from the engine: test_mask_dilation.py).
    mask = torch.zeros(1, 1, 5, 5)
    mask[0, 0, 2, 2] = 1
    S = coefficient_map(mask, 0.3, 0.02)
    assert S[0, 0, 2, 2] == 0.3 and S[0, 0, 0, 0] == 0.02 and S[0, 0, 1, 2] == 0.02
    assert float(S.sum()) == pytest.approx(0.3 + 24 * 0.02, abs=1e-6)  # float32 sum


def test_reference_is_the_base_noise():
    g = torch.Generator().manual_seed(3)
    noise = rdp(group_size=5).sample(6, SHAPE, half_mask(6), g)
    base = torch.randn((6, *SHAPE), generator=torch.Generator().manual_seed(3))  # the same first draw
    assert noise.reference == 0 and noise.perturbed == [1, 2, 3, 4]
    assert torch.equal(noise.x_T[:, 0], base)
    assert not torch.equal(noise.x_T[:, 1], base)


def test_every_candidate_is_marginally_standard_normal():
    # 4000 groups × 64 elements per candidate index: the sample variance has std ≈ sqrt(2/256000) ≈ 0.003;
    # tolerance 0.02 on mean and variance (over 6σ).
    noise = rdp(group_size=4, sigma_in=0.6, sigma_out=0.3).sample(4000, SHAPE, half_mask(4000), torch.Generator().manual_seed(0))
    x = noise.x_T  # [N, G, C, h, w]
    for i in range(4):
        assert abs(float(x[:, i].mean())) < 0.02
        assert abs(float(x[:, i].var()) - 1) < 0.02


def test_region_correlations_between_perturbed_candidates():
    # Two perturbed candidates share sqrt(1 − S²)·x*: correlation 1 − S². σ_out = 0.5 → 0.75 in the background,
    # σ_in = 0.8 → 0.36 in the edit region. 4000 groups × 32 elements per region: tolerance 0.02.
    noise = rdp(group_size=3, sigma_in=0.8, sigma_out=0.5).sample(4000, SHAPE, half_mask(4000), torch.Generator().manual_seed(1))
    a, b = noise.x_T[:, 1], noise.x_T[:, 2]  # [N, C, h, w]
    corr = lambda u, v: float(torch.corrcoef(torch.stack([u.flatten(), v.flatten()]))[0, 1])  # noqa: E731
    assert abs(corr(a[..., 2:], b[..., 2:]) - 0.75) < 0.02
    assert abs(corr(a[..., :2], b[..., :2]) - 0.36) < 0.02


def test_degenerate_masks_are_counted_not_errors():
    empty = rdp(group_size=3).sample(2, SHAPE, torch.zeros(2, 1, 4, 4), torch.Generator().manual_seed(0))
    full = rdp(group_size=3).sample(2, SHAPE, torch.ones(2, 1, 4, 4), torch.Generator().manual_seed(0))
    assert empty.stats["empty_masks"] == 2 and empty.stats["full_masks"] == 0
    assert full.stats["full_masks"] == 2
    # Empty mask = global neighbourhood with σ_out = 0.02: perturbed candidates nearly equal the reference.
    assert float((empty.x_T[:, 1] - empty.x_T[:, 0]).abs().max()) < 0.2
    assert float((full.x_T[:, 1] - full.x_T[:, 0]).abs().max()) > 0.2


def test_sigma_order_is_validated():
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match="must not exceed sigma_in"):
        RegionDecoupledPerturbation.Config(sigma_in=0.1, sigma_out=0.2)
