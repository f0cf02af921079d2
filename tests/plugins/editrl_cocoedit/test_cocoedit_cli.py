"""recipes/toy/cocoedit.yaml through the real CLI and engine: validation refuses the region regulariser without
x̂±_0, θ_old is a frozen adapter AdamW never touches, rollouts run under it, a run ends, a killed run resumes
bit-identically (θ_old included)."""

from __future__ import annotations

import torch

from tests_support import REPO, latest_lora, read_metrics, run_killed_at
from editrl.engine.build import build_components, load_recipe
from editrl.engine.checkpoint import STATE_FILE
from editrl.engine.rollout import integrate
from editrl.engine.trainer import Trainer
from editrl_cocoedit.old_policy import OLD_ADAPTER, old_decay

RECIPE = REPO / "recipes" / "toy" / "cocoedit.yaml"
#: Shrinks the recipe to seconds: 2 groups of 4 candidates, 4 solver steps (3 trained noise levels).
TINY_NFT = ["train.batch_size=2", "exploration.group_size=4", "solver.steps=4", "eval.max_examples=6",
            "train.save_every=0"]


def trainer_for(tmp_path, *overrides) -> Trainer:
    cfg, registry = load_recipe(RECIPE, [*TINY_NFT, f"output_dir={tmp_path / 'run'}", *overrides])
    trainer = Trainer(cfg, build_components(cfg, registry))
    trainer.setup()
    return trainer


def adapter(trainer: Trainer, name: str) -> dict[str, torch.Tensor]:
    return trainer.lora.state_dict(name)


def test_region_regulariser_is_refused_without_nft(cli):
    result = cli("validate", RECIPE, "optimizer={type: grpo_clip}", "policy={type: euclidean}")
    assert result.exit_code == 2 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "regularizers.0: regularizer 'cocoedit_region' needs 'x0_pos', which optimizer 'grpo_clip' does not " \
           "produce" in text
    assert cli("validate", RECIPE).exit_code == 0


def test_theta_old_is_frozen_and_soft_updated(tmp_path):
    t = trainer_for(tmp_path, "train.lr=0.05")
    old_params = {n for n, _ in t.lora.module.named_parameters() if f".{OLD_ADAPTER}." in n}
    assert old_params
    in_adamw = {id(p) for group in t.adamw.param_groups for p in group["params"]}
    assert not any(id(p) in in_adamw for n, p in t.lora.module.named_parameters() if n in old_params)
    before_old, before = adapter(t, OLD_ADAPTER), adapter(t, "default")
    assert all(torch.equal(before_old[k], before[k]) for k in before)  # θ_old starts as a copy of θ
    t.step = 1
    t.train_step()
    after_old, after = adapter(t, OLD_ADAPTER), adapter(t, "default")
    assert all(p.grad is None for n, p in t.lora.module.named_parameters() if n in old_params)
    assert any(not torch.equal(after[k], before[k]) for k in after)  # θ moved
    eta = old_decay(1, "linear")  # 0.001
    for k in after:  # θ_old ← η·θ_old + (1 − η)·θ, and nothing else changed it
        torch.testing.assert_close(after_old[k], eta * before_old[k] + (1 - eta) * after[k], rtol=0, atol=1e-7)
    assert any(not torch.equal(after_old[k], after[k]) for k in after)  # it lags θ by η


def test_a_step_whose_groups_are_all_filtered_leaves_theta_alone(tmp_path):
    # filter_std = 100: every group's standardised reward spread is below it, so no chunk and no AdamW update
    t = trainer_for(tmp_path, "optimizer.filter_std=100", "train.lr=0.05")
    before = adapter(t, "default")
    t.step = 1
    metrics = t.train_step()
    assert metrics["adv/filtered_groups"] == 2 and metrics["loss"] == 0 and metrics["skipped_steps"] == 0
    after = adapter(t, "default")
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_rollouts_run_under_theta_old(tmp_path):
    t = trainer_for(tmp_path)
    with torch.no_grad():  # move θ away from θ_old; rollouts must not see it
        for p in t.lora.trainable_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    batch = t.cursor.next_batch()
    state = t.generator.get_state()
    rollout, _, _ = t.roll_out(batch)
    t.generator.set_state(state)
    G = t.c.exploration.group_size
    x_T = t.c.exploration.sample(len(batch), rollout.final.shape[2:], rollout.latent_mask, t.generator).x_T
    cond = t.c.backbone.encode_condition(batch).repeat_interleave(G)
    with t.lora.using(OLD_ADAPTER):
        under_old, _ = integrate(t.c.backbone, t.c.solver, x_T.flatten(0, 1), cond, rollout.sigmas)
    under_theta, _ = integrate(t.c.backbone, t.c.solver, x_T.flatten(0, 1), cond, rollout.sigmas)
    assert torch.equal(rollout.final.flatten(0, 1), under_old)
    assert not torch.allclose(rollout.final.flatten(0, 1), under_theta)
    assert rollout.states is None and rollout.source_latents is not None  # no solver states; the regulariser's input


def test_toy_recipe_runs_end_to_end(cli, tmp_path):
    out = tmp_path / "coco"
    result = cli("run", RECIPE, *TINY_NFT, "train.steps=2", f"output_dir={out}")
    assert result.exit_code == 0, result.output
    metrics = read_metrics(out)
    assert [m["step"] for m in metrics] == [1, 2]
    last = metrics[-1]
    for key in ("nft/policy_loss", "nft/kl", "reg/cocoedit_region", "reg/cocoedit_region/d_keep",
                "reward/cocoedit_similarity/mean", "reward/toy_judge/mean", "adv/filtered_groups"):
        assert key in last, key
    assert last["skipped_steps"] == 0
    assert (out / "eval.json").is_file() and "cocoedit_similarity" in result.output


RUN = [*TINY_NFT, "train.steps=4", "train.save_every=2", "eval.at_end=false"]


def test_resume_after_kill_equals_uninterrupted(cli, tmp_path):
    straight = tmp_path / "straight"
    assert cli("run", RECIPE, *RUN, f"output_dir={straight}").exit_code == 0

    killed = tmp_path / "killed"
    run_killed_at(3, RECIPE, RUN, killed, tmp_path)
    assert (killed / "checkpoints" / "latest").read_text().strip() == "step_000002"

    resumed = cli("run", RECIPE, *RUN, f"output_dir={killed}", "resume=true")
    assert resumed.exit_code == 0, resumed.output

    a, b = latest_lora(straight), latest_lora(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = lambda run: torch.load(run / "checkpoints" / "step_000004" / STATE_FILE, weights_only=False)  # noqa: E731
    old_a, old_b = state(straight)["optimizer_plugin"]["old_adapter"], state(killed)["optimizer_plugin"]["old_adapter"]
    assert old_a.keys() == old_b.keys() and all(torch.equal(old_a[k], old_b[k]) for k in old_a)
    assert any(not torch.equal(old_a[k], a[k]) for k in a)  # θ_old is its own state, not a copy of θ
    steps_a, steps_b = read_metrics(straight), read_metrics(killed)
    assert [m["step"] for m in steps_b] == [1, 2, 3, 4]
    assert [m["loss"] for m in steps_a] == [m["loss"] for m in steps_b]


def test_flux_recipe_steps_on_the_tiny_kontext_pipeline(cli, tmp_path):
    # recipes/cocoedit_flux.yaml on the tiny random Kontext pipeline (offline, CPU): packed latents, FLUX's condition
    # rows, θ_old as a second adapter on its transformer, the region terms on its latent grid. The MLLM judge needs
    # a server, so r_sim alone scores here.
    from editrl_flux.tiny import build_tiny_kontext

    tiny = tmp_path / "tiny"
    build_tiny_kontext(tiny)
    out = tmp_path / "flux"
    result = cli(
        "run", REPO / "recipes" / "cocoedit_flux.yaml", "dataset={type: toy_shapes}", f"backbone.model={tiny}",
        "backbone.dtype=fp32", "backbone.max_sequence_length=16", "exploration.group_size=3", "solver.steps=2",
        "rewards=[{type: cocoedit_similarity}]", "train.steps=2", "train.batch_size=1", "train.device=cpu",
        "train.save_every=0", "eval.at_end=false", f"output_dir={out}",
    )
    assert result.exit_code == 0, result.output
    last = read_metrics(out)[-1]
    assert last["skipped_steps"] == 0 and "reg/cocoedit_region/d_keep" in last and last["grad_norm"] > 0
