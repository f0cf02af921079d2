import torch

from editrl_neighbor_grpo.grpo_clip import GrpoClip, clipped_objective


def test_clipped_objective_hand_computed():
    # ε = 0.2. ρ = 1.5: A = +1 → min(1.5, 1.2) = 1.2;  A = −1 → min(−1.5, −1.2) = −1.5.
    #          ρ = 0.5: A = +1 → min(0.5, 0.8) = 0.5;  A = −1 → min(−0.5, −0.8) = −0.8.
    log_ratio = torch.log(torch.tensor([1.5, 1.5, 0.5, 0.5]))
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    torch.testing.assert_close(clipped_objective(log_ratio, adv, 0.2), torch.tensor([1.2, -1.5, 0.5, -0.8]))


def test_ratio_one_gives_the_advantage():
    adv = torch.tensor([0.3, -2.0])
    torch.testing.assert_close(clipped_objective(torch.zeros(2), adv, 0.2), adv)


def test_shuffled_advantages_keep_each_groups_values():
    opt = GrpoClip(GrpoClip.Config(shuffle_advantages=True))
    rewards = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 1.0, 5.0]])
    plain, _ = GrpoClip(GrpoClip.Config()).advantages(rewards, torch.Generator().manual_seed(0))
    shuffled, _ = opt.advantages(rewards, torch.Generator().manual_seed(0))
    assert torch.equal(plain.sort(dim=1).values, shuffled.sort(dim=1).values)
    assert not torch.equal(plain, shuffled)
