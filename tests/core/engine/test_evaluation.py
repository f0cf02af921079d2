"""Held-out evaluation leaves out the rows a metric could not score (a judge's failed request), never averaging NaN."""

from __future__ import annotations

import math

import torch

from editrl.engine.evaluation import evaluate
from editrl.interfaces import Reward, RewardOutput
from editrl.testing.world import ToyWorld


class EveryOtherRow(Reward):
    """Scores row r as r; rows with odd r are invalid (NaN value, reason "unparseable")."""

    name = "every_other_row"
    requires = frozenset({"images"})

    def score(self, inputs):
        M = inputs.images.shape[0]
        rows = torch.arange(M, dtype=torch.float32)  # [M]
        valid = rows % 2 == 0  # [M]
        values = torch.where(valid, rows, torch.full_like(rows, math.nan))
        return RewardOutput(values=values, valid=valid, reasons=[None if v else "unparseable" for v in valid.tolist()])


def test_invalid_rows_are_left_out_of_the_means():
    world = ToyWorld()
    examples = list(world.dataset.split("eval"))[:6]
    metric = EveryOtherRow(EveryOtherRow.Config())
    # batch_size 3: rows are numbered per batch, 0 1 2 | 0 1 2 → valid values 0, 2 | 0, 2, mean 1; 2 of 6 invalid
    result = evaluate("base", world.backbone, world.solver, [metric], examples, seed=0, batch_size=3,
                      device=torch.device("cpu"))
    assert result.counts["all"] == 6
    assert result.means["all"]["every_other_row"] == 1.0
    assert result.means["all"]["every_other_row/invalid_fraction"] == 2 / 6
