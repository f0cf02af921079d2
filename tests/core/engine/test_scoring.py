"""The engine's reward combination (docs/method.md §1): each term is standardised over the whole minibatch, then weighted."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from tests_support import TINY, TOY_RECIPE
from editrl.engine.build import build_components, load_recipe
from editrl.engine.scoring import combine
from editrl.engine.trainer import Trainer
from editrl.interfaces import Reward, RewardConfig, RewardInputs, RewardOutput


class Recorded(Reward):
    """A reward term whose scores are given (combine reads only its weight)."""

    name = "recorded"
    Config: ClassVar[type[RewardConfig]] = RewardConfig

    def score(self, inputs: RewardInputs) -> RewardOutput:
        raise AssertionError("combine never calls score")


def term(weight: float) -> Recorded:
    return Recorded(RewardConfig(weight=weight))


def out(*values: float) -> RewardOutput:
    return RewardOutput(values=torch.tensor(values))


# N = 2 groups of G = 2, rows group-major: (n0 c0, n0 c1, n1 c0, n1 c1).
# a = (1, 1, 3, 3): mean 2, population std 1 → z_a = (−1, −1, 1, 1).
# b = (0, 100, 0, 100): mean 50, population std 50 → z_b = (−1, 1, −1, 1).
# With weights 2 and 1: total = 2·z_a + z_b = (−3, −1, 1, 3). The raw weighted sum 2a + b = (2, 102, 6, 106) would let
# b's scale decide, and a per-group standardisation would zero a (constant within each group).
A = (1.0, 1.0, 3.0, 3.0)
B = (0.0, 100.0, 0.0, 100.0)


def test_terms_are_standardised_over_the_minibatch_before_weighting():
    scores = combine([term(2.0), term(1.0)], [out(*A), out(*B)], N=2, G=2)
    torch.testing.assert_close(scores.total, torch.tensor([[-3.0, -1.0], [1.0, 3.0]]), atol=1e-5, rtol=0)
    assert scores.finite


def test_a_terms_scale_and_offset_do_not_matter_its_weight_does():
    # z is invariant under b → 1000·b − 7, so the total is the same; doubling b's weight gives 2·z_a + 2·z_b.
    base = combine([term(2.0), term(1.0)], [out(*A), out(*B)], N=2, G=2).total
    rescaled = combine([term(2.0), term(1.0)], [out(*A), out(*(1000 * b - 7 for b in B))], N=2, G=2).total
    torch.testing.assert_close(rescaled, base, atol=1e-5, rtol=0)
    heavier = combine([term(2.0), term(2.0)], [out(*A), out(*B)], N=2, G=2).total
    torch.testing.assert_close(heavier, torch.tensor([[-4.0, 0.0], [0.0, 4.0]]), atol=1e-5, rtol=0)


def test_a_constant_term_contributes_nothing_and_one_term_keeps_its_ranking():
    # A constant term standardises to zeros (std 0, the 1e-8 guard keeps it finite).
    scores = combine([term(1.0), term(5.0)], [out(*B), out(4.0, 4.0, 4.0, 4.0)], N=2, G=2)
    torch.testing.assert_close(scores.total, torch.tensor([[-1.0, 1.0], [-1.0, 1.0]]), atol=1e-5, rtol=0)
    # A single term: z = (b − 50)/50, the same order as b (a no-op for the group advantages up to scale).
    single = combine([term(3.0)], [out(*B)], N=1, G=4).total
    torch.testing.assert_close(single, torch.tensor([[-3.0, 3.0, -3.0, 3.0]]), atol=1e-5, rtol=0)


def test_a_non_finite_term_is_reported():
    scores = combine([term(1.0), term(1.0)], [out(*A), out(0.0, float("inf"), 0.0, 1.0)], N=2, G=2)
    assert not scores.finite


@pytest.mark.parametrize("N, G", [(2, 2), (1, 4), (4, 1)])
def test_the_total_is_group_major(N, G):
    # The total's [N, G] view keeps the rows' order: row n·G + i is candidate i of group n.
    scores = combine([term(1.0)], [out(*A)], N=N, G=G)
    torch.testing.assert_close(scores.total.flatten(), torch.tensor([-1.0, -1.0, 1.0, 1.0]), atol=1e-5, rtol=0)


def test_the_trainer_combines_standardised_terms_with_the_recipes_weights(tmp_path):
    # The toy RC-GRPO recipe: toy_judge (weight 1, 0–10) and acd (weight 0.5, around 1–2). The step's total reward
    # must be 1·z(judge) + 0.5·z(acd), z over the whole minibatch, not the raw 1·judge + 0.5·acd.
    cfg, registry = load_recipe(TOY_RECIPE.parent / "rc_grpo.yaml", [*TINY, f"output_dir={tmp_path / 'run'}"])
    t = Trainer(cfg, build_components(cfg, registry))
    t.setup()
    batch = t.cursor.next_batch()
    rollout, images, maps = t.roll_out(batch)
    scores = t.score(batch, rollout, images, maps)
    judge, acd = (o.values.double() for o in scores.outputs)  # [M] each
    z = lambda v: (v - v.mean()) / v.std(unbiased=False)  # noqa: E731
    expected = (1.0 * z(judge) + 0.5 * z(acd)).view_as(scores.total)  # [N, G]
    torch.testing.assert_close(scores.total.double(), expected, atol=1e-5, rtol=0)
    raw = (1.0 * judge + 0.5 * acd).view_as(scores.total)
    assert (scores.total.double() - raw).abs().max() > 1.0
