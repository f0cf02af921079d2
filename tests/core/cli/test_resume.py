"""A run killed between checkpoints and resumed ends with exactly the weights of an uninterrupted run (CPU)."""

from __future__ import annotations

import torch

from tests_support import TINY, TOY_RECIPE, latest_lora, read_metrics, run_killed_at

RUN = [*TINY, "train.steps=4", "train.save_every=2", "eval.at_end=false"]


def test_resume_after_kill_equals_uninterrupted(cli, tmp_path):
    straight = tmp_path / "straight"
    assert cli("run", TOY_RECIPE, *RUN, f"output_dir={straight}").exit_code == 0

    killed = tmp_path / "killed"
    run_killed_at(3, TOY_RECIPE, RUN, killed, tmp_path)
    assert (killed / "checkpoints" / "latest").read_text().strip() == "step_000002"
    assert [m["step"] for m in read_metrics(killed)] == [1, 2, 3]  # step 3 ran but was never checkpointed

    resumed = cli("run", TOY_RECIPE, *RUN, f"output_dir={killed}", "resume=true")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed at step 2" in " ".join(resumed.output.split())  # rich wraps at the terminal width

    a, b = latest_lora(straight), latest_lora(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps_a, steps_b = read_metrics(straight), read_metrics(killed)
    assert [m["step"] for m in steps_b] == [1, 2, 3, 4]
    assert [m["loss"] for m in steps_a] == [m["loss"] for m in steps_b]


def test_resume_refuses_a_changed_recipe(cli, tmp_path):
    out = tmp_path / "run"
    assert cli("run", TOY_RECIPE, *TINY, "train.steps=1", "eval.at_end=false", f"output_dir={out}").exit_code == 0
    changed = cli("run", TOY_RECIPE, *TINY, "train.steps=2", "train.lr=0.5", "eval.at_end=false",
                  f"output_dir={out}", "resume=true")
    assert changed.exit_code == 2 and "train.lr" in changed.output
    longer = cli("run", TOY_RECIPE, *TINY, "train.steps=2", "eval.at_end=false", f"output_dir={out}", "--resume")
    assert longer.exit_code == 0, longer.output
    assert [m["step"] for m in read_metrics(out)] == [1, 2]
    recipe_before = (out / "recipe.yaml").read_bytes()
    shorter = cli("run", TOY_RECIPE, *TINY, "train.steps=1", "eval.at_end=false", f"output_dir={out}", "--resume")
    assert shorter.exit_code == 2
    assert f"train.steps: 1 is below step 2, which the run in {out} already reached" in shorter.output
    assert (out / "recipe.yaml").read_bytes() == recipe_before  # refused before anything was rewritten


def test_resume_needs_a_checkpoint_in_output_dir(cli, tmp_path):
    missing = tmp_path / "runs" / "mistyped"
    result = cli("run", TOY_RECIPE, *TINY, "train.steps=1", f"output_dir={missing}", "resume=true")
    assert result.exit_code == 2
    assert f"output_dir: resume=true, but {missing} does not exist" in result.output
    assert not missing.exists()  # no fresh run was started there
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("run", TOY_RECIPE, *TINY, "train.steps=1", f"output_dir={empty}", "--resume")
    assert result.exit_code == 2 and f"{empty} holds no checkpoint" in result.output
    assert list(empty.iterdir()) == []
