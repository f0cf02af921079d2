"""One step of the real engine on the shipped toy editor: rollouts are deterministic, and at θ = θ_old the
surrogate ratio is exactly 1 for both leaping policies."""

from __future__ import annotations

import pytest
import torch

from tests_support import TINY, TOY_RECIPE, read_metrics
from editrl.engine.build import build_components, load_recipe
from editrl.engine.rollout import integrate
from editrl.engine.trainer import Trainer

REPO_RC = TOY_RECIPE.parent / "rc_grpo.yaml"


def trainer_for(recipe, tmp_path, *overrides) -> Trainer:
    cfg, registry = load_recipe(recipe, [*TINY, f"output_dir={tmp_path / 'run'}", *overrides])
    trainer = Trainer(cfg, build_components(cfg, registry))
    trainer.setup()
    return trainer


def test_rollouts_are_deterministic(tmp_path):
    t = trainer_for(TOY_RECIPE, tmp_path)
    batch = t.cursor.next_batch()
    cond = t.c.backbone.encode_condition(batch).repeat_interleave(3)
    shape = t.c.backbone.latent_shape(batch)
    x_T = torch.randn(len(batch) * 3, *shape, generator=torch.Generator().manual_seed(0))
    sigmas = t.c.backbone.sigmas(t.c.solver.steps, shape)
    a, states_a = integrate(t.c.backbone, t.c.solver, x_T, cond, sigmas, keep_states=True)
    b, states_b = integrate(t.c.backbone, t.c.solver, x_T, cond, sigmas, keep_states=True)
    assert torch.equal(a, b) and torch.equal(states_a, states_b)
    assert states_a.shape == (t.c.solver.steps + 1, len(batch) * 3, *shape)
    assert torch.equal(states_a[-1], a.float())


@pytest.mark.parametrize("recipe", [TOY_RECIPE, REPO_RC], ids=["euclidean+global", "masked+rdp"])
def test_ratio_is_one_at_theta_old(recipe, tmp_path):
    # Make the LoRA non-zero first so θ ≠ base; θ_old = θ since no update happens between rollout and loss.
    t = trainer_for(recipe, tmp_path)
    with torch.no_grad():
        for p in t.lora.trainable_parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    batch = t.cursor.next_batch()
    rollout, images, maps = t.roll_out(batch)
    scores = t.score(batch, rollout, images, maps)
    advantages, _ = t.c.optimizer.advantages(scores.total, t.generator)
    chunks = list(t.c.optimizer.loss_chunks(t.ctx, rollout, advantages))
    assert len(chunks) == t.c.solver.steps
    for chunk in chunks:
        # Recomputing one Euler step from the stored x_k reproduces the stored x_{k+1} (up to float rounding of a
        # smaller batch), so log π_θ − log π_old ≈ 0 and ρ = 1.
        assert abs(chunk.stats["policy/ratio_min"] - 1) < 1e-5 and abs(chunk.stats["policy/ratio_max"] - 1) < 1e-5
        assert chunk.stats["policy/clipfrac"] == 0
        assert chunk.loss.requires_grad


def test_rc_grpo_recipe_runs_end_to_end(cli, tmp_path):
    out = tmp_path / "rc"
    result = cli("run", REPO_RC, *TINY, "train.steps=2", f"output_dir={out}")
    assert result.exit_code == 0, result.output
    last = read_metrics(out)[-1]
    assert last["reward/acd/mean"] > 0 and "reward/toy_judge/consistency_group_std" in last
    assert last["explore/empty_masks"] == 0
    assert "acd" in result.output  # ACD is also an evaluation metric of the recipe


def test_later_updates_of_a_rollout_move_the_ratio(tmp_path):
    # With one update per rollout θ = θ_old at loss time: ratio ≡ 1. From the second update on θ has moved, so the
    # ratio leaves 1 (a large learning rate makes the move visible).
    one = trainer_for(TOY_RECIPE, tmp_path / "one", "train.lr=0.05").train_step()
    assert one["policy/ratio_min"] == pytest.approx(1, abs=1e-5) and one["policy/ratio_max"] == pytest.approx(1, abs=1e-5)
    two = trainer_for(TOY_RECIPE, tmp_path / "two", "train.lr=0.05", "train.updates_per_rollout=2").train_step()
    assert two["policy/ratio_max"] - two["policy/ratio_min"] > 1e-3
    assert two["policy/approx_kl"] > 0


def test_updates_per_rollout_excludes_grad_accum(cli, tmp_path):
    result = cli("validate", TOY_RECIPE, "train.updates_per_rollout=2", "train.grad_accum=2")
    assert result.exit_code == 2
    assert "updates_per_rollout > 1 needs grad_accum = 1" in result.output


def test_adamw_takes_the_recipe_settings(tmp_path):
    # train.lr, betas, eps and weight_decay reach the optimiser as written (eps is not AdamW's default 1e-8).
    t = trainer_for(TOY_RECIPE, tmp_path, "train.lr=3e-3", "train.betas=[0.8, 0.99]", "train.eps=1e-4",
                    "train.weight_decay=0.01")  # fmt: skip
    group = t.adamw.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (3e-3, (0.8, 0.99), 1e-4, 0.01)
