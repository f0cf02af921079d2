"""A run whose log can be trusted: one plain line per step when not a terminal, a warning per skipped step, exit
code 3 when most steps were skipped, strict JSON (null, never NaN), and the local plugins recorded for `editrl eval`.

One diverging run serves every test here: ``lora.alpha=1e12 train.lr=1`` makes the first AdamW step blow the LoRA
up (the update is scaled by alpha / rank = 1.25e11), so every later step samples non-finite images and is skipped.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
import yaml
from typer.testing import CliRunner

from tests_support import FAKE_PLUGIN, REPO, TINY, TOY_RECIPE, read_metrics

STEPS = 4


def _strict_json(text: str):
    """``json.loads`` that refuses the NaN / Infinity tokens Python's encoder writes by default."""

    def refuse(token: str):
        raise AssertionError(f"bare {token} in JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    """(run result, run dir, invoke) of the diverging run, trained with a local reward module given by ``-p``."""
    from editrl.cli import build_app

    root = tmp_path_factory.mktemp("diverged")
    (root / "my_rewards.py").write_text(FAKE_PLUGIN.replace('"brightness"', '"my_brightness"'))
    app, runner = build_app(), CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = invoke(
            "run", TOY_RECIPE, *TINY, "-p", "my_rewards", "rewards.1={type: my_brightness, weight: 0.5}",
            f"train.steps={STEPS}", "lora.alpha=1e12", "train.lr=1", "eval.max_examples=2", f"output_dir={root / 'run'}",
        )
        yield result, root / "run", invoke
    sys.modules.pop("my_rewards", None)


def test_one_plain_line_per_step(diverged):
    result, _, _ = diverged
    lines = [line for line in result.output.splitlines() if line.startswith("step ")]
    assert [line.split(" · ")[0] for line in lines] == [f"step {k}/{STEPS}" for k in range(1, STEPS + 1)]
    for line in lines:
        assert re.fullmatch(r"step \d/4 · reward \S+ · loss \S+ · skipped \d · \d+\.\d\ds/step", line), line
    first_loss = lines[0].split(" · ")[2].removeprefix("loss ")
    assert float(first_loss) != 0 and "0.0000" not in first_loss  # 3 significant digits, whatever the magnitude
    assert lines[-1].split(" · ")[2] == "loss nan"


def test_every_skipped_step_warns_and_most_skipped_exits_3(diverged):
    result, run_dir, _ = diverged
    skipped = read_metrics(run_dir)[-1]["skipped_steps"]
    assert skipped == STEPS - 1  # all but the first step (see the module docstring)
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: step ")]
    assert [w.split(" skipped:")[0] for w in warnings] == [f"warning: step {k}" for k in range(2, STEPS + 1)]
    assert f"{STEPS} steps, {skipped} skipped" in result.output
    assert result.exit_code == 3, result.output
    assert f"error: {skipped} of {STEPS} steps were skipped" in result.output
    readme_row = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("| `editrl run"))
    assert "exit code 3" in readme_row


def test_eval_json_holds_null_never_nan(diverged):
    _, run_dir, _ = diverged
    results = _strict_json((run_dir / "eval.json").read_text())
    assert [r["label"] for r in results] == ["base", f"step {STEPS}"]
    assert all(v is not None for v in results[0]["means"]["all"].values())  # the base editor is untouched
    assert results[1]["means"]["all"]["toy_judge"] is None  # the blown-up LoRA's NaN, written as null
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        _strict_json(line)


def test_local_plugins_are_recorded_and_eval_loads_them(diverged):
    _, run_dir, invoke = diverged
    assert yaml.safe_load((run_dir / "recipe.yaml").read_text())["plugins"] == ["my_rewards"]
    sys.modules.pop("my_rewards", None)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "path", [p for p in sys.path if p != str(run_dir.parent)])  # the run's cwd was added
        mp.chdir(run_dir)  # the module is not importable here: the recipe's plugins entry is what eval loads
        elsewhere = invoke("eval", run_dir, "--json")
        mp.chdir(run_dir.parent)  # where the module lives; no -p
        evaluated = invoke("eval", run_dir, "--json", "--max-examples", "2")
    assert elsewhere.exit_code == 2 and "cannot import local plugin module 'my_rewards'" in elsewhere.output
    assert evaluated.exit_code == 0, evaluated.output  # the recipe's rewards.1 (my_brightness) validated
    results = _strict_json(evaluated.output)
    assert [r["label"] for r in results] == ["base", f"step {STEPS}"]  # the run's table and eval use one label
