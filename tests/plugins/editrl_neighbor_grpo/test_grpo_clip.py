import math

import pytest
import torch

from editrl.interfaces import Condition, InitialNoise, Rollout, TrainContext
from editrl_neighbor_grpo.grpo_clip import GrpoClip, clipped_objective
from editrl_neighbor_grpo.policy import EuclideanPolicy
from editrl_solvers import Euler


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


# -- loss_chunks on a tiny linear velocity ---------------------------------------------------------------------------
class LinearVelocity(torch.nn.Module):
    """v_θ(x, σ, c) = θ·x with one scalar parameter θ: the smallest velocity whose gradient can be derived by hand."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(theta))

    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, cond: Condition) -> torch.Tensor:
        return self.theta * x  # [M, C, h, w]


def one_step_rollout(x0: torch.Tensor, theta_old: float, reference: int | None) -> Rollout:
    """One Euler step σ 1 → 0 from ``x0 [N, G, 1, 1, 1]`` under v = θ_old·x: x_1 = x_0 − θ_old·x_0."""
    states = torch.stack([x0, x0 * (1 - theta_old)])  # [K + 1 = 2, N, G, 1, 1, 1]
    return Rollout(
        cond=Condition(), sigmas=torch.tensor([1.0, 0.0]), noise=InitialNoise(x_T=x0, reference=reference),
        final=states[-1], states=states,
    )


def context(backbone: LinearVelocity, policy, seed: int = 0) -> TrainContext:
    return TrainContext(
        backbone=backbone, solver=Euler(Euler.Config(steps=1)), policy=policy,
        generator=torch.Generator().manual_seed(seed), lora=None, base_velocity=None,
    )


def test_loss_chunks_value_and_gradient_at_theta_not_theta_old():
    # One group of G = 2 candidates with x_0 = (1, −1), one Euler step σ 1 → 0, v = θ·x, so x_1 = (1 − θ)·x_0.
    # θ_old = 0: the stored x_1 = (1, −1). θ = 0.5: the anchor a's prediction x̂ = (1 − θ)·x_0^a = u·x_0^a, u = 0.5.
    # Euclidean policy, fixed τ = 1, no reference, B = 2 anchors (both candidates), ε = 0.2, A = (+1, −1).
    #
    # Anchor 0 (x̂ = u): d(0) = (1 − u)², d(1) = (1 + u)², logit difference −½(d(0) − d(1)) = 2u, so
    #   π(0 | 0) = s(2u), π(1 | 0) = s(−2u) with s the logistic function; under θ_old (u = 1): s(2), s(−2).
    #   ρ(0) = s(1)/s(2) = 0.8300 (inside [0.8, 1.2]); ρ(1) = s(−1)/s(−2) = (1 + e²)/(1 + e) = 2.25616 =: R.
    #   Terms min(ρA, clip(ρ)A): i = 0, A = +1 → ρ(0); i = 1, A = −1 → min(−R, −1.2) = −R (unclipped).
    # Anchor 1 (x̂ = −u) is the mirror image: candidate 1 plays candidate 0's part.
    #   i = 1, A = −1 → −ρ(0) (inside the clip range); i = 0, A = +1 → min(R, 1.2) = 1.2 (clipped: no gradient).
    # Objective = mean of the four = (ρ(0) − R − ρ(0) + 1.2)/4 = (1.2 − R)/4; loss = −objective = (R − 1.2)/4 = 0.264041.
    #
    # Gradient, with du/dθ = −1, d log s(2u)/du = 2·s(−2u), d log s(−2u)/du = −2·s(2u), at u = 0.5:
    #   d ρ(0)/dθ (anchor 0)     = ρ(0)·2·s(−1)·(−1)
    #   d(−R)/dθ  (anchor 0)     = −R·(−2·s(1))·(−1) = −2R·s(1)
    #   d(−ρ(0))/dθ (anchor 1)   = +2ρ(0)·s(−1)   (cancels the first)
    #   clipped term             = 0
    # d objective/dθ = −2R·s(1)/4, so d loss/dθ = R·s(1)/2 = 0.824694.
    s = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    R = (1 + math.e**2) / (1 + math.e)
    backbone = LinearVelocity(0.5)
    policy = EuclideanPolicy(EuclideanPolicy.Config(bandwidth="fixed", tau=1.0))
    opt = GrpoClip(GrpoClip.Config(anchors=2, clip_eps=0.2))
    rollout = one_step_rollout(torch.tensor([1.0, -1.0]).view(1, 2, 1, 1, 1), theta_old=0.0, reference=None)
    chunks = list(opt.loss_chunks(context(backbone, policy), rollout, torch.tensor([[1.0, -1.0]])))
    assert len(chunks) == 1 and chunks[0].share == 1.0
    chunks[0].loss.backward()
    assert float(chunks[0].loss.detach()) == pytest.approx((R - 1.2) / 4, abs=1e-6)
    assert float(backbone.theta.grad) == pytest.approx(R * s(1) / 2, abs=1e-5)
    stats = chunks[0].stats
    assert stats["policy/ratio_max"] == pytest.approx(R, abs=1e-5)
    assert stats["policy/ratio_min"] == pytest.approx(s(1) / s(2), abs=1e-5)
    assert stats["policy/clipfrac"] == 0.5  # the two ρ = R of the four lie outside 1 ± ε


class RecordingPolicy(EuclideanPolicy):
    """The euclidean policy, recording every anchor prediction it is asked about."""

    name = "recording"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.predictions: list[torch.Tensor] = []

    def log_probs(self, prediction, candidates, latent_mask):
        self.predictions.append(prediction.detach().clone())
        return super().log_probs(prediction, candidates, latent_mask)


@pytest.mark.parametrize("anchors", [2, 3, 8])
def test_anchors_never_include_the_reference(anchors):
    # Candidate i's state is the constant i and v = 0, so an anchor's prediction x̂ = x_k^a reads back its index a.
    # G = 4 with the reference at 0: anchors come from {1, 2, 3}, B = min(anchors, 3) distinct ones per group.
    N, G = 16, 4
    x0 = torch.arange(G, dtype=torch.float32).view(1, G, 1, 1, 1).expand(N, -1, -1, -1, -1)  # [N, G, 1, 1, 1]
    policy = RecordingPolicy(RecordingPolicy.Config(bandwidth="fixed", tau=1.0))
    opt = GrpoClip(GrpoClip.Config(anchors=anchors))
    ctx = context(LinearVelocity(0.0), policy, seed=anchors)
    seen = set()
    for _ in range(10):
        list(opt.loss_chunks(ctx, one_step_rollout(x0, 0.0, reference=0), torch.zeros(N, G)))
    B = min(anchors, G - 1)
    for prediction in policy.predictions[::2]:  # log π_θ calls (every other call is θ_old's)
        picked = prediction.view(N, -1).round().long()  # [N, B] anchor indices
        assert picked.shape == (N, B)
        assert (picked != 0).all()
        assert all(len(set(row.tolist())) == B for row in picked)  # without replacement
        seen.update(picked.flatten().tolist())
    assert seen == {1, 2, 3}  # uniform over the perturbed candidates: each of them is drawn
