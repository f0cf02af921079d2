import torch

from editrl.interfaces import RewardInputs
from editrl_rc_grpo.acd import AttentionConcentration, acd

MASK = torch.tensor([[1.0, 1.0, 0.0, 0.0]])  # [M=1, n_img=4]: two edit tokens of four


def test_concentrated_attention_scores_above_one():
    # m = (0.4, 0.4, 0.1, 0.1): mean inside the mask 0.4, mean over all tokens 0.25 → ACD = 0.4 / (0.25 + ε), ε = 1e-6,
    # = 1.6 − 6.4e-6. In float64 the tolerance 1e-9 is far below ε's effect, so a missing ε (exactly 1.6) fails.
    value = acd(torch.tensor([[0.4, 0.4, 0.1, 0.1]], dtype=torch.float64), MASK)
    torch.testing.assert_close(value, torch.tensor([0.4 / (0.25 + 1e-6)], dtype=torch.float64), atol=1e-9, rtol=0)
    assert abs(float(value[0]) - 1.6) > 6e-6


def test_epsilon_in_the_denominator_dominates_faint_attention():
    # m = (2e-6, 2e-6, 0, 0): inside 2e-6, mean 1e-6, so ACD = 2e-6 / (1e-6 + ε) = 1 with ε = 1e-6, where without ε
    # it would be 2 (= N / |M|, everything inside). float32 rounding is ~1e-7 relative.
    value = acd(torch.tensor([[2e-6, 2e-6, 0.0, 0.0]]), MASK)
    torch.testing.assert_close(value, torch.tensor([1.0]), atol=1e-5, rtol=0)


def test_uniform_attention_scores_one_and_the_maximum_is_n_over_area():
    torch.testing.assert_close(acd(torch.full((1, 4), 0.25), MASK), torch.tensor([1.0]), atol=1e-5, rtol=0)
    # All attention inside: 0.5 / 0.25 = 2 = N / |M| = 4 / 2.
    torch.testing.assert_close(acd(torch.tensor([[0.5, 0.5, 0.0, 0.0]]), MASK), torch.tensor([2.0]), atol=1e-5, rtol=0)


def test_empty_mask_is_neutral_and_counted():
    reward = AttentionConcentration(AttentionConcentration.Config(layers=1))
    attention = torch.tensor([0.7, 0.1, 0.1, 0.1]).view(1, 1, 1, 4)  # [F, L, M, n_img]
    out = reward.score(RewardInputs(tasks=["add"], attention=attention, token_mask=torch.zeros(1, 4)))
    assert float(out.values[0]) == 1.0 and out.counters["empty_masks"] == 1


def test_reward_averages_the_last_layers_over_forwards():
    # F = 2 forwards, L = 2 layers captured; the reward uses the last layer only (layers=1):
    # forward 0 last layer (0.4, 0.4, 0.1, 0.1) → 1.6; forward 1 last layer uniform → 1.0; mean 1.3.
    # The first layer (all attention outside the mask, ACD 0) must be ignored.
    outside = torch.tensor([0.0, 0.0, 0.5, 0.5])
    maps = torch.stack([
        torch.stack([outside, torch.tensor([0.4, 0.4, 0.1, 0.1])]),
        torch.stack([outside, torch.full((4,), 0.25)]),
    ])[:, :, None, :]  # [2, 2, 1, 4]
    reward = AttentionConcentration(AttentionConcentration.Config(layers=1))
    assert reward.attention_layers == 1
    out = reward.score(RewardInputs(tasks=["add"], attention=maps, token_mask=MASK))
    torch.testing.assert_close(out.values, torch.tensor([1.3]), atol=1e-5, rtol=0)
    both = AttentionConcentration(AttentionConcentration.Config(layers=2)).score(
        RewardInputs(tasks=["add"], attention=maps, token_mask=MASK)
    )
    torch.testing.assert_close(both.values, torch.tensor([0.65]), atol=1e-5, rtol=0)  # (0 + 1.6 + 0 + 1.0) / 4
