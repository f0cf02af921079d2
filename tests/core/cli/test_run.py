"""End-to-end: the real CLI trains the toy editor for a couple of steps."""

from __future__ import annotations

import json

import torch
import yaml

from tests_support import TINY, TOY_RECIPE, latest_lora, read_metrics


def test_run_trains_lora_and_writes_the_run_directory(cli, tmp_path):
    out = tmp_path / "run"
    result = cli("run", TOY_RECIPE, *TINY, "train.steps=2", f"output_dir={out}")
    assert result.exit_code == 0, result.output
    # the run directory holds what the README promises
    assert {p.name for p in out.iterdir()} >= {"recipe.yaml", "metrics.jsonl", "checkpoints", "eval.json"}
    resolved = yaml.safe_load((out / "recipe.yaml").read_text())
    assert resolved["train"]["steps"] == 2 and resolved["exploration"]["group_size"] == 4
    metrics = read_metrics(out)
    assert [m["step"] for m in metrics] == [1, 2]
    for key in ("reward/toy_judge/mean", "reward/toy_judge/group_std", "loss", "policy/clipfrac", "policy/approx_kl",
                "policy/entropy", "policy/ratio_min", "policy/ratio_max", "diag/background_drift", "grad_norm"):
        assert key in metrics[-1], key
    assert metrics[-1]["skipped_steps"] == 0
    # LoRA B matrices start at zero (peft's init); after training they are not
    lora = latest_lora(out)
    b_norm = sum(float(v.abs().sum()) for k, v in lora.items() if "lora_B" in k)
    assert b_norm > 0
    assert "held-out evaluation" in result.output and "toy_judge" in result.output and "step 2" in result.output
    # `editrl eval` re-evaluates the latest checkpoint from fixed noise: the same numbers as the run's eval.json
    evaluated = cli("eval", out, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    again, saved = json.loads(evaluated.output), json.loads((out / "eval.json").read_text())
    assert [r["label"] for r in again] == ["base", "step 2"]  # the label of the run's own table
    for a, b in zip(again, saved):
        assert a["means"].keys() == b["means"].keys()
        for task in a["means"]:
            for metric, value in a["means"][task].items():
                assert abs(value - b["means"][task][metric]) < 1e-5, (task, metric)
    assert cli("eval", tmp_path / "nowhere").exit_code == 2


def test_existing_run_is_not_overwritten(cli, tmp_path):
    out = tmp_path / "run"
    args = ("run", TOY_RECIPE, *TINY, "train.steps=1", "eval.at_end=false", f"output_dir={out}")
    assert cli(*args).exit_code == 0
    before = latest_lora(out)
    again = cli(*args)
    assert again.exit_code == 2
    assert "already holds a run" in again.output and "resume=true" in again.output
    assert all(torch.equal(before[k], v) for k, v in latest_lora(out).items())


def test_nan_reward_skips_the_step_and_keeps_weights(cli, tmp_path, monkeypatch):
    (tmp_path / "nan_reward.py").write_text(
        "import torch\n"
        "from editrl import hookimpl\n"
        "from editrl.interfaces import Reward, RewardOutput\n\n"
        "class NanReward(Reward):\n"
        "    name = 'always_nan'\n\n"
        "    def score(self, inputs):\n"
        "        return RewardOutput(values=torch.full((inputs.images.shape[0],), float('nan')))\n\n"
        "@hookimpl\n"
        "def editrl_register_components(registry):\n"
        "    registry.add(NanReward)\n"
    )
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    result = cli("run", TOY_RECIPE, *TINY, "-p", "nan_reward", "rewards.1={type: always_nan}", "train.steps=2",
                 "eval.at_end=false", f"output_dir={out}")
    assert result.exit_code == 3, result.output  # every step skipped: more than half
    assert read_metrics(out)[-1]["skipped_steps"] == 2
    assert all(float(v.abs().sum()) == 0 for k, v in latest_lora(out).items() if "lora_B" in k)


def test_third_party_reward_is_listed_validated_and_used(cli, tmp_path, fake_distribution):
    listing = cli("ls", "reward")
    assert "brightness" in listing.output and "(vlm)" in listing.output
    plugins = cli("plugins")
    assert "fake-editrl-vlm" in plugins.output
    bad = cli("validate", TOY_RECIPE, "rewards.1={type: brightness, target: 7}")
    assert bad.exit_code == 2 and "rewards.1.target" in bad.output
    out = tmp_path / "run"
    result = cli("run", TOY_RECIPE, *TINY, "rewards.1={type: brightness, target: 0.4, weight: 0.5}",
                 "train.steps=1", "eval.at_end=false", f"output_dir={out}")
    assert result.exit_code == 0, result.output
    assert "reward/brightness/mean" in read_metrics(out)[0]


def test_readme_commands_name_recipes_that_validate(cli):
    # The README's quickstart and its other `editrl run` lines must stay true: each recipe exists and validates.
    import re

    from tests_support import REPO

    readme = (REPO / "README.md").read_text()
    quickstart = re.search(r'pip install -e "\.\[dev\]" && editrl run (\S+)', readme)
    assert quickstart is not None and quickstart.group(1) == "recipes/toy/rc_grpo.yaml"
    for recipe in sorted(set(re.findall(r"editrl run (recipes/\S+\.yaml)", readme))):
        result = cli("validate", REPO / recipe, "--no-data")  # the FLUX/Qwen recipes' data is the user's
        assert result.exit_code == 0, (recipe, result.output)
