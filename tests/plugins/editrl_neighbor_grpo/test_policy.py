"""Surrogate leaping policies (docs/method.md §3 steps 4–5, §3.1, Scheme B): hand-computed log-probs and distances, the
median bandwidth, region handling, gradients and the entropy helper."""

import math

import pydantic
import pytest
import torch

from editrl_neighbor_grpo.policy import (
    EuclideanPolicy,
    MaskedPolicy,
    entropy,
    euclidean_distance,
    masked_distance,
    median_bandwidth_sq,
    pairwise_candidate_msd,
    region_mean,
)


def _euclidean(**kwargs) -> EuclideanPolicy:
    return EuclideanPolicy(EuclideanPolicy.Config(**kwargs))


def _masked(**kwargs) -> MaskedPolicy:
    return MaskedPolicy(MaskedPolicy.Config(**kwargs))


def _g3():
    """One group of G = 3 candidates with C = 1, h = 1, w = 2: (0, 0), (1, 1), (3, 1); two anchor predictions,
    (0, 0) and (1, 1)."""
    candidates = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 1.0]]).reshape(1, 3, 1, 1, 2)  # [N=1, G=3, C, h, w]
    prediction = torch.tensor([[0.0, 0.0], [1.0, 1.0]]).reshape(1, 2, 1, 1, 2)  # [N=1, B=2, C, h, w]
    return prediction, candidates


def test_euclidean_fixed_hand_computed():
    # Anchor (0, 0): mean squared distances to the candidates = (0, (1+1)/2, (9+1)/2) = (0, 1, 5); τ = 1 → d = (0, 1, 5)
    # → logits −½d = (0, −0.5, −2.5); log Z = log(1 + e^−0.5 + e^−2.5) = log(1.6886157) = 0.5239091
    # → log π = (−0.5239091, −1.0239091, −3.0239091).
    prediction, candidates = _g3()
    log_pi = _euclidean(bandwidth="fixed", tau=1.0).log_probs(prediction, candidates, None)
    assert log_pi.shape == (1, 2, 3)
    torch.testing.assert_close(log_pi[0, 0], torch.tensor([-0.5239091, -1.0239091, -3.0239091]), atol=1e-6, rtol=0)
    # τ = 2 divides d by 4: logits (0, −0.125, −0.625).
    log_pi = _euclidean(bandwidth="fixed", tau=2.0).log_probs(prediction, candidates, None)
    logits = torch.tensor([0.0, -0.125, -0.625])
    torch.testing.assert_close(log_pi[0, 0], logits - torch.logsumexp(logits, 0), atol=1e-6, rtol=0)


def test_euclidean_median_hand_computed():
    # Candidate pairs: (0,1) → (1+1)/2 = 1, (0,2) → (9+1)/2 = 5, (1,2) → (4+0)/2 = 2; median τ² = 2.
    # Anchor (0, 0): msd (0, 1, 5) → d = (0, 0.5, 2.5) → logits (0, −0.25, −1.25), log Z = 0.7252782
    #   → log π = (−0.7252782, −0.9752782, −1.9752782).
    # Anchor (1, 1): msd ((1+1)/2, 0, (4+0)/2) = (1, 0, 2) → d = (0.5, 0, 1) → logits (−0.25, 0, −0.5),
    #   log Z = log(0.7788008 + 1 + 0.6065307) = 0.869338 → log π = (−1.119338, −0.869338, −1.369338).
    prediction, candidates = _g3()
    policy = _euclidean()  # median is the default
    assert policy.config.bandwidth == "median"
    torch.testing.assert_close(pairwise_candidate_msd(candidates), torch.tensor([[1.0, 5.0, 2.0]]))
    torch.testing.assert_close(policy.bandwidth_sq(candidates), torch.tensor([2.0]))
    log_pi = policy.log_probs(prediction, candidates, None)
    expected = torch.tensor([[[-0.7252782, -0.9752782, -1.9752782], [-1.119338, -0.869338, -1.369338]]])
    torch.testing.assert_close(log_pi, expected, atol=1e-6, rtol=0)


def test_median_of_an_even_number_of_pairs_and_the_floor():
    # G = 4 scalar candidates 0, 1, 3, 7: pair distances 1, 9, 49, 4, 36, 16 → sorted 1, 4, 9, 16, 36, 49;
    # six pairs → median = (9 + 16) / 2 = 12.5.
    candidates = torch.tensor([0.0, 1.0, 3.0, 7.0]).reshape(1, 4, 1, 1, 1)
    torch.testing.assert_close(median_bandwidth_sq(candidates, None, 1e-8), torch.tensor([12.5]))
    # Identical candidates: every pair distance is 0 → the floor.
    same = torch.ones(2, 3, 1, 2, 2)
    torch.testing.assert_close(median_bandwidth_sq(same, None, 1e-8), torch.full((2,), 1e-8))
    log_pi = _euclidean(median_floor=1e-6).log_probs(same[:, :1] + 1e-4, same, None)  # finite, uniform
    torch.testing.assert_close(log_pi, torch.full((2, 1, 3), -math.log(3)))


def test_rows_sum_to_one_and_shapes():
    gen = torch.Generator().manual_seed(0)
    candidates = torch.randn(2, 5, 2, 3, 4, generator=gen)  # [N, G, C, h, w]
    prediction = candidates[:, :3] + 0.1 * torch.randn(2, 3, 2, 3, 4, generator=gen)  # [N, B, C, h, w]
    mask = torch.zeros(2, 1, 3, 4)
    mask[0, :, :2, :2] = 1
    mask[1, :, 1:, :] = 1
    for policy in (_euclidean(), _euclidean(bandwidth="fixed"), _masked(bandwidth="median"), _masked()):
        log_pi = policy.log_probs(prediction, candidates, mask)
        assert log_pi.shape == (2, 3, 5) and log_pi.dtype == torch.float32
        torch.testing.assert_close(log_pi.exp().sum(-1), torch.ones(2, 3))
    # The euclidean policy ignores the mask.
    torch.testing.assert_close(
        _euclidean().log_probs(prediction, candidates, mask), _euclidean().log_probs(prediction, candidates, None)
    )


def test_masked_distance_hand_computed():
    # C = 2, h = 1, w = 3; the first column is the edit region: n_in = 2·1 = 2, n_out = 2·2 = 4 elements.
    # Δ (prediction 0): channel 0 = (1, 2, 0), channel 1 = (3, 0, 1).
    #   ‖M⊙Δ‖² = 1 + 9 = 10 → /n_in = 5;   ‖(1−M)⊙Δ‖² = 4 + 0 + 0 + 1 = 5 → /n_out = 1.25.
    # τ_in² = 0.5, τ_out² = 2 → d_M = 5/0.5 + 1.25/2 = 10.625.
    candidate = torch.tensor([[1.0, 2.0, 0.0], [3.0, 0.0, 1.0]]).reshape(1, 1, 2, 1, 3)  # [N=1, G=1, C=2, h=1, w=3]
    prediction = torch.zeros(1, 1, 2, 1, 3)
    mask = torch.tensor([1.0, 0.0, 0.0]).reshape(1, 1, 1, 3)
    assert masked_distance(prediction, candidate, mask, 0.5, 2.0).item() == pytest.approx(10.625)
    # Empty edit region: the inside term drops; outside = all 6 elements: (1+4+0+9+0+1)/6 = 2.5 → /τ_out² 2 = 1.25.
    assert masked_distance(prediction, candidate, torch.zeros(1, 1, 1, 3), 0.5, 2.0).item() == pytest.approx(1.25)
    # Full mask: the outside term drops; inside = 2.5 / τ_in² 0.5 = 5.
    assert masked_distance(prediction, candidate, torch.ones(1, 1, 1, 3), 0.5, 2.0).item() == pytest.approx(5.0)
    # Per-group τ² tensors broadcast like floats.
    d = masked_distance(prediction, candidate, mask, torch.tensor([0.5]), torch.tensor([2.0]))
    assert d.shape == (1, 1, 1) and d.item() == pytest.approx(10.625)


def test_region_mean_counts_channels_and_empty_regions():
    values = torch.arange(12.0).reshape(1, 2, 2, 3)  # [N=1, C=2, h=2, w=3]
    region = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).reshape(1, 1, 2, 3)
    # Kept elements: channel 0 → 0, 5; channel 1 → 6, 11 → (0 + 5 + 6 + 11) / 4 = 5.5.
    assert region_mean(values, region).item() == pytest.approx(5.5)
    assert region_mean(values, torch.zeros(1, 1, 2, 3)).item() == 0.0
    assert region_mean(values, None).item() == pytest.approx(5.5)  # mean of 0..11


@pytest.mark.parametrize("policy_kind", ["euclidean", "masked"])
def test_gradient_matches_the_closed_form(policy_kind):
    # ∇_{x̂} log π(i) = W ⊙ (x^i − Σ_k π_k x^k) with W = 1/(τ²·D) (euclidean) or M/(τ_in²·n_in) + (1−M)/(τ_out²·n_out)
    # (masked): differentiate −½ d(i) and the log-sum-exp.
    gen = torch.Generator().manual_seed(1)
    candidates = torch.randn(1, 4, 2, 2, 3, generator=gen)  # [N=1, G=4, C=2, h=2, w=3], D = 12
    prediction = (candidates[:, 1:2] + 0.3 * torch.randn(1, 1, 2, 2, 3, generator=gen)).requires_grad_(True)
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]).reshape(1, 1, 2, 3)  # n_in = 4, n_out = 8
    if policy_kind == "euclidean":
        policy = _euclidean(bandwidth="fixed", tau=0.7)
        weight = torch.full((1, 1, 2, 3), 1 / (0.49 * 12))
    else:
        policy = _masked(bandwidth="fixed", tau_in=0.5, tau_out=2.0)
        weight = mask / (0.25 * 4) + (1 - mask) / (4.0 * 8)
    log_pi = policy.log_probs(prediction, candidates, mask)[0, 0]  # [G]
    pi = log_pi.detach().exp()
    mean_candidate = (pi.reshape(4, 1, 1, 1) * candidates[0]).sum(0)  # [C, h, w]
    for i in range(4):
        (grad,) = torch.autograd.grad(log_pi[i], prediction, retain_graph=True)
        torch.testing.assert_close(grad[0, 0], weight[0] * (candidates[0, i] - mean_candidate), atol=1e-5, rtol=1e-4)


def test_masked_policy_median_per_region():
    # C = 1, h = 1, w = 2; column 0 is the edit region. Candidates (edit, background): (0, 0), (2, 0.1), (4, 0.3).
    # Edit pairs: 4, 16, 4 → median τ_in² = 4. Background pairs: 0.01, 0.09, 0.04 → median τ_out² = 0.04.
    candidates = torch.tensor([[0.0, 0.0], [2.0, 0.1], [4.0, 0.3]]).reshape(1, 3, 1, 1, 2)
    mask = torch.tensor([1.0, 0.0]).reshape(1, 1, 1, 2)
    policy = _masked(bandwidth="median")
    tau_in_sq, tau_out_sq = policy.bandwidth_sq(candidates, mask)
    torch.testing.assert_close(tau_in_sq, torch.tensor([4.0]))
    torch.testing.assert_close(tau_out_sq, torch.tensor([0.04]))
    # Anchor at candidate 0: d_M = (0, 4/4 + 0.01/0.04, 16/4 + 0.09/0.04) = (0, 1.25, 6.25).
    log_pi = policy.log_probs(candidates[:, :1], candidates, mask)
    logits = torch.tensor([0.0, -0.625, -3.125])
    torch.testing.assert_close(log_pi[0, 0], logits - torch.logsumexp(logits, 0))
    # The medians are detached even if the states carry gradients.
    assert not policy.bandwidth_sq(candidates.clone().requires_grad_(True), mask)[0].requires_grad


def test_masked_with_a_full_mask_is_euclidean():
    # M ≡ 1: n_out = 0 drops the background term and d_M = msd / τ_in², the euclidean distance; the per-region median
    # is then the global median, so both bandwidth modes agree with the euclidean policy.
    gen = torch.Generator().manual_seed(2)
    candidates = torch.randn(2, 4, 3, 2, 2, generator=gen)
    prediction = torch.randn(2, 2, 3, 2, 2, generator=gen)
    full = torch.ones(2, 1, 2, 2)
    torch.testing.assert_close(
        _masked(bandwidth="median").log_probs(prediction, candidates, full),
        _euclidean().log_probs(prediction, candidates, None),
    )
    torch.testing.assert_close(
        _masked(bandwidth="fixed", tau_in=0.8).log_probs(prediction, candidates, full),
        _euclidean(bandwidth="fixed", tau=0.8).log_probs(prediction, candidates, None),
    )
    torch.testing.assert_close(
        masked_distance(prediction, candidates, full, 0.64, 1.0), euclidean_distance(prediction, candidates, 0.64)
    )


def test_empty_region_keeps_gradients_finite():
    gen = torch.Generator().manual_seed(3)
    candidates = torch.randn(1, 3, 2, 2, 2, generator=gen)
    prediction = torch.randn(1, 2, 2, 2, 2, generator=gen, requires_grad=True)
    for mask in (torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)):
        for policy in (_masked(bandwidth="median"), _masked()):
            log_pi = policy.log_probs(prediction, candidates, mask)
            (grad,) = torch.autograd.grad(log_pi[..., 0].sum(), prediction)
            assert torch.isfinite(log_pi).all() and torch.isfinite(grad).all()


def test_masked_policy_requires_a_mask():
    assert MaskedPolicy.requires == frozenset({"mask"})
    assert EuclideanPolicy.requires == frozenset()
    prediction, candidates = _g3()
    with pytest.raises(ValueError, match="mask"):
        _masked().log_probs(prediction, candidates, None)
    with pytest.raises(ValueError, match=r"\[N, 1, h, w\]"):
        _masked().log_probs(prediction, candidates, torch.ones(1, 2, 1, 2))
    with pytest.raises(ValueError, match="disagree"):
        _euclidean().log_probs(prediction[..., :1], candidates, None)


def test_entropy():
    uniform = torch.log_softmax(torch.zeros(2, 3, 4), dim=-1)
    torch.testing.assert_close(entropy(uniform), torch.full((2, 3), math.log(4)))
    one_hot = torch.tensor([0.0, -math.inf, -math.inf])
    assert entropy(one_hot).item() == 0.0
    # (½, ¼, ¼): −(½ log ½ + 2 · ¼ log ¼) = 1.5 log 2.
    assert entropy(torch.tensor([0.5, 0.25, 0.25]).log()).item() == pytest.approx(1.5 * math.log(2))


def test_configs():
    assert EuclideanPolicy.Config().bandwidth == "median"
    assert MaskedPolicy.Config().bandwidth == "fixed"  # per-region medians collapse the toy (toy_rdp_bandwidth.md)
    for bad in ({"bandwidth": "mean"}, {"tau": 0.0}, {"median_floor": 0.0}, {"tau_in": 0.3}):
        with pytest.raises(pydantic.ValidationError):
            EuclideanPolicy.Config(**bad)
    with pytest.raises(pydantic.ValidationError):
        MaskedPolicy.Config(tau=0.3)
    assert (EuclideanPolicy.kind, EuclideanPolicy.name, MaskedPolicy.name) == ("policy", "euclidean", "masked")
