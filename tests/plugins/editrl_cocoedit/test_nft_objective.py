"""DiffusionNFT's pieces against hand-computed values (docs/method.md §7): r from advantages, the group filters, the loss and
its gradient for a tiny linear velocity, the θ_old schedule."""

from __future__ import annotations

import pytest
import torch

from editrl_cocoedit.nft import DiffusionNft
from editrl_cocoedit.objective import (
    adaptive_loss, branch_predictions, kept_groups, nft_rows, noised, optimality,
)
from editrl_cocoedit.old_policy import old_decay


def test_optimality_from_advantages():
    # r = clamp(0.5 + clamp(A, ±5)/10, 0, 1): A = −7 → −5 → 0; −2.5 → 0.25; 0 → 0.5; 1 → 0.6; 6 → 5 → 1.
    A = torch.tensor([-7.0, -5.0, -2.5, 0.0, 1.0, 5.0, 6.0])
    torch.testing.assert_close(optimality(A, 5.0), torch.tensor([0.0, 0.0, 0.25, 0.5, 0.6, 1.0, 1.0]))
    # adv_clip 2: r = 0.5 + A/4, so A = 1 → 0.75 and A = −3 → −2 → 0.
    torch.testing.assert_close(optimality(torch.tensor([1.0, -3.0]), 2.0), torch.tensor([0.75, 0.0]))


def test_advantages_use_the_global_std():
    # rewards [[1, 2, 3], [5, 5, 5]]: centred [[−1, 0, 1], [0, 0, 0]]. Global population std of {1, 2, 3, 5, 5, 5}:
    # mean 3.5, squared deviations 6.25 + 2.25 + 0.25 + 3·2.25 = 15.5, /6 = 2.58333, sqrt = 1.607275.
    # A = ±1 / (1.607275 + 1e-4) = ±0.622118; r = 0.5 ± 0.0622118. The constant group: A = 0, r = ½.
    opt = DiffusionNft(DiffusionNft.Config())
    adv, stats = opt.advantages(torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]), torch.Generator())
    a = 1 / (1.607275 + 1e-4)
    torch.testing.assert_close(adv, torch.tensor([[-a, 0.0, a], [0.0, 0.0, 0.0]]), atol=1e-5, rtol=0)
    assert stats["nft/r_max"] == pytest.approx(0.5 + a / 10, abs=1e-5)
    assert stats["adv/filtered_groups"] == 0  # filters are off by default


def test_group_filters():
    # Population std / mean per group:
    #   [0, .01, .02]    std sqrt((1e-4 + 0 + 1e-4)/3) = 0.0082 ≤ 0.02 → dropped by the std filter; mean 0.01
    #   [.5, .95, 1.4]   std 0.367, mean 0.95 ≥ 0.9 → dropped by the mean filter
    #   [1, 1, 1.03]     std sqrt((1e-4 + 1e-4 + 4e-4)/3) = 0.0141 ≤ 0.02 and mean 1.01 ≥ 0.9 → dropped by both
    #   [0, .5, 1]       std 0.408, mean 0.5 → kept
    rewards = torch.tensor([[0, 0.01, 0.02], [0.5, 0.95, 1.4], [1, 1, 1.03], [0, 0.5, 1.0]])
    assert kept_groups(rewards, 0.02, 0.9).tolist() == [False, False, False, True]
    assert kept_groups(rewards, 0.02, None).tolist() == [False, True, False, True]
    assert kept_groups(rewards, None, 0.9).tolist() == [True, False, False, True]
    assert kept_groups(rewards, None, None).tolist() == [True, True, True, True]
    # unscored rows (NaN) are left out: [0, NaN, 1] has std 0.5 and mean 0.5 → kept
    assert kept_groups(torch.tensor([[0.0, float("nan"), 1.0]]), 0.02, 0.9).tolist() == [True]
    opt = DiffusionNft(DiffusionNft.Config(filter_std=0.02, filter_mean=0.9))
    assert opt.advantages(rewards, torch.Generator())[1]["adv/filtered_groups"] == 3


def _linear_case(beta: float, kl_coef: float = 0.0):
    """One row, one channel, two elements: x_0 = [1, 1], σ = 0.5, ε = [3, 1] → x_σ = 0.5·x_0 + 0.5·ε = [2, 1].
    v_θ = a·x_σ with a = 1 (the trained weight), v_old = b·x_σ with b = 0.5, v_base = 0; r = 0.75."""
    a = torch.tensor(1.0, requires_grad=True)
    x0 = torch.tensor([1.0, 1.0]).view(1, 1, 1, 2)
    sigma = torch.tensor([0.5])
    x_sigma = noised(x0, torch.tensor([3.0, 1.0]).view(1, 1, 1, 2), sigma)
    v_theta, v_old = a * x_sigma, 0.5 * x_sigma
    x0_pos, x0_neg = branch_predictions(x_sigma, sigma, v_theta, v_old, beta)
    r = torch.tensor([0.75])
    loss = 5.0 * nft_rows(r, adaptive_loss(x0_pos, x0), adaptive_loss(x0_neg, x0), beta).mean()
    loss = loss + kl_coef * v_theta.pow(2).mean()
    loss.backward()
    return x_sigma, loss.detach(), a.grad


def test_nft_loss_and_gradient_for_a_linear_velocity():
    # β = 1: v⁺ = v_θ = [2, 1], v⁻ = 2·v_old − v_θ = [0, 0].
    #   x̂⁺ = x_σ − σ·v⁺ = [1, 0.5]; x̂⁺ − x_0 = [0, −0.5]: mean² 0.125, mean|·| 0.25 → L⁺ = 0.5.
    #   x̂⁻ = x_σ = [2, 1];           x̂⁻ − x_0 = [1, 0]:    mean² 0.5,   mean|·| 0.5  → L⁻ = 1.
    #   loss = 5·(0.75·0.5 + 0.25·1)/1 = 3.125.
    # Gradient in a (the adaptive weight is detached): dx̂⁺/da = −σ·x_σ = [−1, −0.5],
    #   dL⁺/da = (1/0.25)·mean(2·[0, −0.5]·[−1, −0.5]) = 4·mean([0, 0.5]) = 1;
    #   v⁻ = 2·v_old − a·x_σ → dx̂⁻/da = +σ·x_σ = [1, 0.5], dL⁻/da = (1/0.5)·mean(2·[1, 0]·[1, 0.5]) = 2·1 = 2;
    #   d loss/da = 5·(0.75·1 + 0.25·2) = 6.25.
    x_sigma, loss, grad = _linear_case(beta=1.0)
    torch.testing.assert_close(x_sigma.flatten(), torch.tensor([2.0, 1.0]))
    assert float(loss) == pytest.approx(3.125, abs=1e-6)
    assert float(grad) == pytest.approx(6.25, abs=1e-6)
    # + kl_coef·mean((v_θ − v_base)²) with v_base = 0: mean([4, 1]) = 2.5, d/da = mean(2·a·x_σ²) = mean([8, 2]) = 5.
    # kl_coef = 0.1: loss 3.125 + 0.25 = 3.375, gradient 6.25 + 0.5 = 6.75.
    _, loss, grad = _linear_case(beta=1.0, kl_coef=0.1)
    assert float(loss) == pytest.approx(3.375, abs=1e-6) and float(grad) == pytest.approx(6.75, abs=1e-6)


def test_nft_beta_mixes_the_old_velocity():
    # β = 0.5: v⁺ = 0.5·v_old + 0.5·v_θ = [1.5, 0.75] → x̂⁺ = [1.25, 0.625], error [0.25, −0.375]:
    #   mean² (0.0625 + 0.140625)/2 = 0.1015625, mean|·| 0.3125 → L⁺ = 0.325.
    # v⁻ = 1.5·v_old − 0.5·v_θ = [0.5, 0.25] → x̂⁻ = [1.75, 0.875], error [0.75, −0.125]:
    #   mean² (0.5625 + 0.015625)/2 = 0.2890625, mean|·| 0.4375 → L⁻ = 0.6607143.
    # loss = 5·(0.75·0.325 + 0.25·0.6607143)/0.5 = 5·0.8178571 = 4.0892857.
    _, loss, _ = _linear_case(beta=0.5)
    assert float(loss) == pytest.approx(4.0892857, abs=1e-6)


def test_plain_weighting_is_the_mean_squared_error():
    err = torch.tensor([0.0, -0.5]).view(1, 1, 1, 2)
    assert float(adaptive_loss(err, torch.zeros_like(err), adaptive=False)) == pytest.approx(0.125)
    # a perfect prediction: the weight is floored at 1e-5, the loss is 0 (not NaN)
    assert float(adaptive_loss(torch.zeros_like(err), torch.zeros_like(err))) == 0.0


def test_old_policy_schedules():
    # linear (the paper's): η = min(0.001·step, 0.5)
    assert [old_decay(s, "linear") for s in (1, 250, 500, 1000)] == pytest.approx([0.001, 0.25, 0.5, 0.5])
    # delayed: 0 before step 75, then min(0.0075·(step − 75), 0.999): 76 → 0.0075, 175 → 0.75, 300 → 1.6875 → 0.999
    assert [old_decay(s, "delayed") for s in (1, 74, 75, 76, 175, 300)] == pytest.approx(
        [0.0, 0.0, 0.0, 0.0075, 0.75, 0.999]
    )
    assert old_decay(1000, "on_policy") == 0.0
