"""The progress display: a bar on a terminal, plain lines elsewhere; numbers in 3 significant digits; strict JSON."""

from __future__ import annotations

import io
import json
import math

import pytest
from rich.console import Console

from editrl.cli import output
from editrl.engine.metrics import dumps_json, weighted_reward


@pytest.mark.parametrize(
    "value, text",
    [(-4.47e-08, "-4.47e-08"), (0.0123456, "0.0123"), (7.6149, "7.61"), (1234.5, "1.23e+03"), (math.nan, "nan"),
     (None, "nan")],
)
def test_fmt_keeps_three_significant_digits(value, text):
    assert output.fmt(value) == text


def _metrics(step: int, skipped: int, loss: float) -> dict:
    return {"step": step, "skipped_steps": skipped, "loss": loss, "reward/weighted_mean": 0.5,
            "reward/toy_judge/mean": 0.5 if math.isfinite(loss) else math.nan, "time/step_s": 1.0}


def test_terminal_gets_the_bar_and_no_plain_lines(monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=screen, force_terminal=True, width=200))
    with output.StepProgress(total=2) as progress:
        assert progress.bar is not None
        progress(1, 2, _metrics(1, 0, -4.47e-08))
        assert "loss -4.47e-08" in progress.bar.tasks[0].description
    assert "step 1/2 ·" not in screen.getvalue()


def test_log_gets_a_line_per_logged_step_and_a_warning_per_skip(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=out, width=80))
    monkeypatch.setattr(output, "console_err", Console(file=err, width=80, soft_wrap=True))
    with output.StepProgress(total=4, log_every=2) as progress:
        for step, skipped, loss in [(1, 0, 0.25), (2, 1, math.nan), (3, 1, 0.5), (4, 1, 0.5)]:
            progress(step, 4, _metrics(step, skipped, loss))
    assert out.getvalue().splitlines() == [
        "step 2/4 · reward 0.5 · loss nan · skipped 1 · 1.00s/step",  # log_every=2: steps 2 and 4
        "step 4/4 · reward 0.5 · loss 0.5 · skipped 1 · 1.00s/step",
    ]
    assert err.getvalue().splitlines() == [
        "warning: step 2 skipped: a reward was not finite, the weights were not updated (1 of 2 steps skipped so far)"
    ]


def test_json_is_strict_and_the_total_reward_is_weighted():
    assert json.loads(dumps_json({"a": [1.0, math.nan], "b": {"c": math.inf}})) == {"a": [1.0, None], "b": {"c": None}}
    # Σ w·mean = 1.0·0.5 + 0.25·(−2) = 0.0
    metrics = {"reward/a/mean": 0.5, "reward/b/mean": -2.0}
    assert weighted_reward(["a", "b"], [1.0, 0.25], metrics) == pytest.approx(0.0)


def test_eval_table_says_which_way_each_metric_is_better_and_colours_the_change():
    """MetricMeans records each column's direction from its metric (LPIPS is a distance: lower), the table prints
    it, and Δ is green where the trained editor moved the better way, red where the worse."""
    import torch

    from editrl.engine.evaluation import MetricMeans
    from editrl.interfaces import Reward, RewardInputs, RewardOutput

    class Distance(Reward):
        name = "distance"

        def lower_is_better(self, detail=None):
            return detail != "similarity"

        def score(self, inputs):
            values = inputs.images.mean(dim=(1, 2, 3))  # [M]
            return RewardOutput(values=values, details={"similarity": 1 - values, "spread": 2 * values})

    results = []
    for label, level in (("base", 0.5), ("trained", 0.25)):
        means = MetricMeans([Distance(Distance.Config())])
        means.add(RewardInputs(tasks=["add", "remove"], images=torch.full((2, 3, 4, 4), level)))
        results.append(means.result(label))
    assert results[0].better == {"distance": "lower", "distance/similarity": "higher", "distance/spread": "lower"}
    buffer = io.StringIO()
    Console(file=buffer, width=200, force_terminal=True, color_system="standard").print(output.eval_table(results))
    text = buffer.getvalue()
    plain = Console(file=io.StringIO(), width=200)
    plain.print(output.eval_table(results))
    rows = [line for line in plain.file.getvalue().splitlines() if line.startswith("│ all")]
    # the distance fell 0.5 → 0.25 (better, lower), the similarity rose 0.5 → 0.75 (better, higher), the spread
    # fell 1.0 → 0.5 (better, lower): every change is green, none red
    assert [r.split("│")[3].strip() for r in rows] == ["lower", "higher", "lower"]
    assert [r.split("│")[-2].strip() for r in rows] == ["-0.250", "+0.250", "-0.500"]
    assert "\x1b[32m" in text and "\x1b[31m" not in text
