"""The engine learns: GRPO on a reward that is easy to learn moves the editor's held-out outputs the way the reward
asks, and the opposite reward moves them the other way. This catches a sign error anywhere between the rewards and
the LoRA update (advantages, surrogate policy, clipped objective, backward), which a loss that merely decreases would
not."""

from __future__ import annotations

import json

import pytest

from tests_support import TINY, TOY_RECIPE

RC_RECIPE = TOY_RECIPE.parent / "rc_grpo.yaml"
# Held-out metric: brightness with target 1.0 scores m − 1 for a mean image brightness m (images in [0, 1]).
EVAL = "eval.metrics=[{type: brightness, target: 1.0}]"


def held_out_brightness_change(cli, tmp_path, recipe, target: float) -> float:
    out = tmp_path / f"{recipe.stem}_{target}"
    result = cli(
        "run", recipe, *TINY, f"rewards=[{{type: brightness, target: {target}}}]", EVAL,
        "train.steps=12", "train.lr=1e-2", f"output_dir={out}",
    )
    assert result.exit_code == 0, result.output
    base, trained = json.loads((out / "eval.json").read_text())
    return trained["means"]["all"]["brightness"] - base["means"]["all"]["brightness"]


@pytest.mark.parametrize("recipe", [TOY_RECIPE, RC_RECIPE], ids=["neighbor_grpo", "rc_grpo"])
def test_training_follows_the_reward(cli, tmp_path, fake_distribution, recipe):
    brighter = held_out_brightness_change(cli, tmp_path, recipe, target=1.0)
    darker = held_out_brightness_change(cli, tmp_path, recipe, target=0.0)
    # Measured (seed 0): +0.24 / −0.43 (neighbor_grpo) and +0.30 / −0.32 (rc_grpo) of mean brightness in 12 tiny
    # steps. The 0.01 threshold is far below those and far above float noise (identical runs agree to 1e-6); a sign
    # error gives the opposite signs.
    assert brighter > 0.01, brighter
    assert darker < -0.01, darker
