"""Scoring while rolling out: the engine integrates ``train.rollout_batch_size`` rows at a time and hands every
micro-batch's rows to an overlapping reward on a worker thread; the rollout, the attention maps and the scores equal
those of one rollout of every row."""

from __future__ import annotations

import threading

import pytest
import torch

from tests_support import TINY, TOY_RECIPE
from editrl.engine.async_scoring import StepScorer
from editrl.engine.build import build_components, load_recipe
from editrl.engine.trainer import Trainer
from editrl.interfaces import Reward, RewardOutput

REPO_RC = TOY_RECIPE.parent / "rc_grpo.yaml"


class Overlapping(Reward):
    """Mean brightness, scored on whatever thread the engine picks, recording the threads and row counts."""

    name = "overlapping"
    requires = frozenset({"images"})

    def __init__(self, config) -> None:
        super().__init__(config)
        self.calls: list[tuple[str, int]] = []

    @property
    def overlaps(self) -> bool:
        return True

    def score(self, inputs):
        self.calls.append((threading.current_thread().name, inputs.images.shape[0]))
        return RewardOutput(values=inputs.images.mean(dim=(1, 2, 3)))


@pytest.fixture(scope="module")
def t(tmp_path_factory) -> Trainer:
    cfg, registry = load_recipe(REPO_RC, [*TINY, f"output_dir={tmp_path_factory.mktemp('async') / 'run'}"])
    components = build_components(cfg, registry)
    components.rewards = [*components.rewards, Overlapping(Overlapping.Config())]
    trainer = Trainer(cfg, components)
    trainer.setup()
    return trainer


@pytest.mark.parametrize(
    ("batch_rows", "submitted"),
    [(None, [4, 4]), (4, [4, 4]), (3, [3, 3, 2]), (8, [8])],
    ids=["default", "one-group", "unaligned", "both-groups"],
)
def test_micro_batched_rollout_matches_one_rollout(t, batch_rows, submitted):
    """TINY has N = 2 groups of G = 4. With 3-row micro-batches (rows 0–2, 3–5, 6–7) the judge gets each
    micro-batch's rows as they are decoded, the second straddling both groups; with 4 rows (or unset, the default
    with a served judge) it gets one group at a time; with all 8 rows both at once after the single rollout. The
    rows are scored as one rollout of every row scores them (so each row met its own example's inputs)."""
    t.recipe.train.rollout_batch_size = None
    batch = t.cursor.next_batch()
    state = t.generator.get_state()
    whole, images, maps = t.roll_out(batch)  # no scorer: every row at once
    reference = t.score(batch, whole, images, maps)
    judge = t.c.rewards[-1]
    judge.calls.clear()
    t.generator.set_state(state)
    t.recipe.train.rollout_batch_size = batch_rows
    try:
        with StepScorer(t.c.rewards) as scorer:
            split, split_images, split_maps = t.roll_out(batch, scorer)
            scores = t.score(batch, split, split_images, split_maps, scorer)
    finally:
        t.recipe.train.rollout_batch_size = None
    assert [rows for _, rows in judge.calls] == submitted
    assert all(name.startswith("editrl-reward") for name, _ in judge.calls)
    # the same rollout up to float rounding of a smaller batch (tolerance 1e-5 on values of order 1)
    torch.testing.assert_close(split.final, whole.final, atol=1e-5, rtol=0)
    torch.testing.assert_close(split.states, whole.states, atol=1e-5, rtol=0)
    assert len(split_maps) == len(maps)
    for a, b in zip(split_maps, maps):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    for a, b in zip(scores.outputs, reference.outputs):
        torch.testing.assert_close(a.values, b.values, atol=1e-5, rtol=0)


def test_a_failing_remote_reward_raises_after_the_others_end(t):
    class Broken(Overlapping):
        def score(self, inputs):
            raise RuntimeError("server said no")

    t.c.rewards[-1] = Broken(Broken.Config())
    batch = t.cursor.next_batch()
    with StepScorer(t.c.rewards) as scorer:
        rollout, images, maps = t.roll_out(batch, scorer)
        try:
            t.score(batch, rollout, images, maps, scorer)
        except RuntimeError as exc:
            assert "server said no" in str(exc)
        else:
            raise AssertionError("the remote reward's failure was swallowed")
