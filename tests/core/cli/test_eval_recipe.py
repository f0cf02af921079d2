"""``editrl eval`` on a recipe file (its base editor, no run needed) and on a run directory: one command that tells
them apart, each writing eval.json and the sample sheet where ``-o`` says (or a default that spares the run's own)."""

from __future__ import annotations

import json

from tests_support import TINY, TOY_RECIPE


def _assert_same_means(a: dict, b: dict) -> None:
    assert a["label"] == b["label"] and a["counts"] == b["counts"] and a["means"].keys() == b["means"].keys()
    for task in a["means"]:
        assert a["means"][task].keys() == b["means"][task].keys()
        for metric, value in a["means"][task].items():
            assert abs(value - b["means"][task][metric]) < 1e-5, (task, metric)


def test_eval_recipe_equals_the_base_row_of_a_run(cli, tmp_path):
    run = tmp_path / "run"
    trained = cli("run", TOY_RECIPE, *TINY, "train.steps=2", f"output_dir={run}")
    assert trained.exit_code == 0, trained.output
    run_eval = (run / "eval.json").read_text()
    base_row, trained_row = json.loads(run_eval)
    # a recipe: its base editor alone; default output <output_dir>/eval/base
    elsewhere = tmp_path / "fresh"
    result = cli("eval", TOY_RECIPE, *TINY, f"output_dir={elsewhere}")
    assert result.exit_code == 0, result.output
    assert f"saved {elsewhere / 'eval' / 'base' / 'eval.json'} and {elsewhere / 'eval' / 'base' / 'samples.png'}" in (
        result.output)
    (recipe_row,) = json.loads((elsewhere / "eval" / "base" / "eval.json").read_text())
    _assert_same_means(recipe_row, base_row)
    assert not (elsewhere / "checkpoints").exists()  # nothing trained
    # a run directory: the base and the latest checkpoint, by default in RUN_DIR/eval/<checkpoint>, never over the
    # run's own eval.json
    result = cli("eval", run, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert json.loads((run / "eval" / "step_000002" / "eval.json").read_text()) == rows
    assert (run / "eval" / "step_000002" / "samples.png").is_file()
    _assert_same_means(rows[0], base_row)
    _assert_same_means(rows[1], trained_row)
    assert (run / "eval.json").read_text() == run_eval
    # -o puts the files elsewhere; overrides apply (here to the number of examples)
    out = tmp_path / "two"
    result = cli("eval", TOY_RECIPE, *TINY, "eval.max_examples=2", "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "eval.json").read_text())[0]["counts"]["all"] == 2


def test_eval_refuses_what_is_neither_a_recipe_nor_a_run(cli, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for target, fragment in [
        (text, f"{text} is not a .yaml recipe file; expected a recipe file (.yaml) or a run directory"),
        (tmp_path, f"{tmp_path}: a directory without recipe.yaml"),
        (tmp_path / "nope.yaml", f"{tmp_path / 'nope.yaml'} does not exist"),
    ]:
        result = cli("eval", target)
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert fragment in result.output, result.output
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "recipe.yaml").write_text(TOY_RECIPE.read_text())
    result = cli("eval", tmp_path / "run")
    assert result.exit_code == 2 and "the run has no complete checkpoint yet" in result.output
