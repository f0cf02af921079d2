"""Exploration schemes (docs/method.md §2.1–2.3): marginals, neighbourhood geometry, the reference, and the RNG contract.

Statistical checks use fixed seeds; each tolerance is about 5 standard deviations of its estimator, computed in the
comment beside it, so a correct implementation passes for any seed and a wrong constant (e.g. σ instead of σ²) fails.
"""

import math

import pydantic
import pytest
import torch

from editrl_neighbor_grpo.exploration import GlobalNeighborhood, IidNoise, mean_pairwise_msd, neighbourhood

# 500 groups × G = 4 candidates × 200 elements = 400k noise values per draw.
N, G, SHAPE = 500, 4, (2, 10, 10)
D = 200


def _global(sigma=0.3, group_size=G):
    return GlobalNeighborhood(GlobalNeighborhood.Config(group_size=group_size, sigma=sigma))


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _pair_correlation(x: torch.Tensor) -> float:
    """Mean of x^i·x^j over groups, elements and ordered pairs i ≠ j (variables are zero-mean, unit-variance)."""
    flat = x.reshape(x.shape[0], x.shape[1], -1)  # [N, G, D]
    s = flat.sum(dim=1)  # [N, D]
    cross = s.square() - flat.square().sum(dim=1)  # [N, D] Σ_{i≠j} x^i x^j
    g = x.shape[1]
    return float(cross.mean() / (g * (g - 1)))


def test_global_neighbourhood_shapes_and_reference():
    noise = _global().sample(N, SHAPE, None, _gen())
    assert noise.x_T.shape == (N, G, *SHAPE)
    assert noise.x_T.dtype == torch.float32
    assert noise.reference is None
    assert noise.perturbed == list(range(G))


def test_global_neighbourhood_is_marginally_standard_normal():
    x = _global(0.3).sample(N, SHAPE, None, _gen(1)).x_T
    # Mean: per (group, element) the mean of G candidates with pairwise correlation ρ = 0.91 has variance
    # (1 + (G−1)ρ)/G = 0.9325; over N·D = 100k independent units, sd = sqrt(0.9325 / 1e5) ≈ 0.003 → tolerance 0.015.
    assert abs(x.mean().item()) < 0.015
    # Variance: sd of the estimator ≈ sqrt(2 / n_eff) with n_eff ≥ 1e5 → ≤ 0.0045 → tolerance 0.025.
    assert abs(x.var().item() - 1.0) < 0.025


def test_global_neighbourhood_correlation_is_one_minus_sigma_squared():
    for sigma in (0.3, 0.6):
        x = _global(sigma).sample(N, SHAPE, None, _gen(2)).x_T
        # E[x^i x^j] = (1 − σ²)·E[x*²] = 1 − σ²; Var(x^i x^j) ≤ 2, 1e5 independent (group, element) units
        # → sd ≤ sqrt(2 / 1e5) ≈ 0.0045 → tolerance 0.025.
        assert _pair_correlation(x) == pytest.approx(1 - sigma**2, abs=0.025)


def test_sigma_one_is_iid_and_iid_is_independent():
    for scheme in (IidNoise(IidNoise.Config(group_size=G)), _global(1.0)):
        x = scheme.sample(N, SHAPE, None, _gen(3)).x_T
        # Candidates: E[x^i x^j] = 0, sd ≈ sqrt(1 / 1e5) ≈ 0.003 → tolerance 0.015.
        assert abs(_pair_correlation(x)) < 0.015
        # Groups: neighbouring groups are independent too (correlation of group n with group n+1).
        assert abs(float((x[:-1] * x[1:]).mean())) < 0.015
        assert abs(x.mean().item()) < 0.015 and abs(x.var().item() - 1.0) < 0.025


def test_stats_pairwise_msd():
    # E‖x^i − x^j‖² per element = 2σ² for a global neighbourhood (0.18 at σ = 0.3), 2 for iid noise. The estimators
    # average 1e5 independent units of variance ≤ 8σ⁴ → relative sd ≤ 0.5 % → relative tolerance 3 %.
    stats = _global(0.3).sample(N, SHAPE, None, _gen(4)).stats
    assert stats["pairwise_msd"] == pytest.approx(0.18, rel=0.03)
    stats = IidNoise(IidNoise.Config(group_size=G)).sample(N, SHAPE, None, _gen(4)).stats
    assert stats["pairwise_msd"] == pytest.approx(2.0, rel=0.03)


def test_mean_pairwise_msd_hand_computed():
    # One group of G = 3 scalar candidates 0, 1, 3: ordered pairs (0,1), (0,2), (1,2) and their mirrors have squared
    # distances 1, 9, 4 → mean 14/3.
    x = torch.tensor([0.0, 1.0, 3.0]).reshape(1, 3, 1, 1, 1)
    assert mean_pairwise_msd(x) == pytest.approx(14 / 3)


def test_same_seed_same_noise_and_only_the_given_generator_is_used():
    scheme = _global()
    torch.manual_seed(123)
    global_state = torch.get_rng_state()
    a = scheme.sample(3, SHAPE, None, _gen(7)).x_T
    b = scheme.sample(3, SHAPE, None, _gen(7)).x_T
    c = scheme.sample(3, SHAPE, None, _gen(8)).x_T
    assert torch.equal(torch.get_rng_state(), global_state)  # the global RNG was not consumed
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    iid = IidNoise(IidNoise.Config(group_size=G))
    assert torch.equal(iid.sample(3, SHAPE, None, _gen(7)).x_T, iid.sample(3, SHAPE, None, _gen(7)).x_T)
    # A generator advances: two consecutive draws differ.
    gen = _gen(7)
    assert not torch.allclose(scheme.sample(3, SHAPE, None, gen).x_T, scheme.sample(3, SHAPE, None, gen).x_T)


def test_neighbourhood_with_reference_and_elementwise_strength():
    # RDP (docs/method.md §2.3): S = σ_in·M + σ_out·(1 − M), the left half of the latent is the edit region.
    sigma_in, sigma_out, g = 0.3, 0.02, 5
    n = 400
    base = torch.randn(n, 2, 8, 8, generator=_gen(5))
    mask = torch.zeros(n, 1, 8, 8)
    mask[..., :4] = 1
    S = sigma_in * mask + sigma_out * (1 - mask)  # [n, 1, 8, 8], broadcast over channels
    x = neighbourhood(base, S, g, _gen(6), reference=True)
    assert x.shape == (n, g, 2, 8, 8)
    assert torch.equal(x[:, 0], base)  # the reference is the unperturbed base noise

    def region_msd(i: int, j: int, region: torch.Tensor) -> float:
        sq = (x[:, i] - x[:, j]).square() * region  # [n, 2, 8, 8]
        return float(sq.sum() / (region.sum() * 2))

    edit, keep = mask, 1 - mask
    # Perturbed–perturbed: E Δ² = 2S² per element: 0.18 inside, 8e-4 outside. Reference–perturbed:
    # 2(1 − sqrt(1 − S²)): 2(1 − sqrt(0.91)) = 0.092121 inside, 2(1 − sqrt(0.9996)) = 4.0008e-4 outside.
    # Each average covers 400·64 = 25.6k iid elements of relative sd sqrt(2) → relative sd ≤ 0.9 % → tolerance 5 %.
    assert region_msd(1, 2, edit) == pytest.approx(2 * sigma_in**2, rel=0.05)
    assert region_msd(3, 4, keep) == pytest.approx(2 * sigma_out**2, rel=0.05)
    assert region_msd(0, 1, edit) == pytest.approx(2 * (1 - math.sqrt(1 - sigma_in**2)), rel=0.05)
    assert region_msd(0, 2, keep) == pytest.approx(2 * (1 - math.sqrt(1 - sigma_out**2)), rel=0.05)
    # Every candidate stays marginally N(0, 1): 5 × 51.2k values, tolerance as in the global test.
    assert abs(x.mean().item()) < 0.015 and abs(x.var().item() - 1.0) < 0.025


def test_neighbourhood_validation():
    base = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        neighbourhood(base, torch.tensor(1.5), 3, _gen(), reference=False)
    with pytest.raises(ValueError, match="G >= 2"):
        neighbourhood(base, torch.tensor(0.3), 1, _gen(), reference=True)
    # S = 0 leaves every candidate equal to the base.
    x = neighbourhood(base + 1, torch.tensor(0.0), 3, _gen(), reference=False)
    assert torch.equal(x, torch.ones(1, 3, 1, 2, 2))


def test_configs():
    assert GlobalNeighborhood.Config().sigma == 0.3
    assert GlobalNeighborhood.Config().group_size == 12
    for bad in ({"sigma": 0.0}, {"sigma": 1.2}, {"group_size": 1}, {"tau": 1.0}):
        with pytest.raises(pydantic.ValidationError):
            GlobalNeighborhood.Config(**bad)
    with pytest.raises(pydantic.ValidationError):
        IidNoise.Config(sigma=0.3)
    assert GlobalNeighborhood.kind == IidNoise.kind == "exploration"
    assert (GlobalNeighborhood.name, IidNoise.name) == ("global_neighborhood", "iid")
    assert GlobalNeighborhood.requires == IidNoise.requires == frozenset()
