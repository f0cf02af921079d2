"""``editrl score`` on CompBench results folders that are not as expected (the metric values on a well-formed one are
in test_score.py): outputs of another size than CompBench's sources, a result missing from ``<task>/<image_path>``."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from PIL import Image

from editrl_compbench.tiny import build_tiny_compbench, tiny_examples
from tests_support import TOY_RECIPE

SIZE = 24


@pytest.fixture
def bench(tmp_path):
    """(recipe file, tree root): the toy recipe reading the tiny tree at its own 24² size, CompBench's PSNR."""
    root = build_tiny_compbench(tmp_path / "tasks", size=SIZE)
    recipe = yaml.safe_load(TOY_RECIPE.read_text())
    recipe["dataset"] = {"type": "compbench", "root": str(root), "resolution": SIZE}
    recipe["eval"] = {"metrics": [{"type": "compbench_psnr"}]}
    path = tmp_path / "compbench.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path, root


def _results(folder, root, examples, scale: int = 1) -> None:
    """The ground-truth edits as an editor's results, at ``scale`` × CompBench's size (nearest)."""
    for e in examples:
        path = folder / e["task"] / e["image_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        truth = root / e["task"] / "edited_image" / e["image_path"]
        if scale == 1:
            shutil.copy(truth, path)
        else:
            Image.open(truth).resize((scale * SIZE, scale * SIZE), Image.Resampling.NEAREST).save(path)


def test_results_of_another_size_are_resized_to_the_sources(cli, tmp_path, bench):
    recipe, root = bench
    examples = tiny_examples(size=SIZE)
    _results(tmp_path / "same", root, examples)
    _results(tmp_path / "twice", root, examples, scale=2)
    same = cli("score", tmp_path / "same", recipe)
    twice = cli("score", tmp_path / "twice", recipe)
    assert same.exit_code == 0 and twice.exit_code == 0, same.output + twice.output
    assert "resized" not in same.output
    assert f"{len(examples)} of {len(examples)} outputs differ in size from their source and were resized to it " \
           "(bicubic)" in twice.output
    exact = json.loads((tmp_path / "same" / "eval.json").read_text())[0]["means"]["all"]
    resized = json.loads((tmp_path / "twice" / "eval.json").read_text())[0]["means"]["all"]
    # the ground truth keeps the background exactly (the 100 dB cap); its 2× nearest copy, resized back with
    # bicubic antialiasing, blurs it a little but not into noise
    assert exact["compbench_psnr/psnr_masked"] == 100.0
    assert 15.0 < resized["compbench_psnr/psnr_masked"] < 100.0


def test_a_missing_result_is_named_by_its_compbench_path(cli, tmp_path, bench):
    recipe, root = bench
    examples = tiny_examples(size=SIZE)
    _results(tmp_path / "results", root, examples[1:])
    result = cli("score", tmp_path / "results", recipe)
    assert result.exit_code == 2 and "Traceback" not in result.output
    first = tmp_path / "results" / examples[0]["task"] / examples[0]["image_path"]
    assert f"1 of {len(examples)} outputs are missing from {tmp_path / 'results'} (expected {first})" in result.output
