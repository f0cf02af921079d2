"""``editrl score``: edits produced elsewhere, found at ``OUTPUTS_DIR/<dataset.output_name(example)>``, scored with
the recipe's eval metrics on its held-out split; missing outputs refused up front (or skipped with --allow-missing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests_support import TINY, TOY_RECIPE

#: The held-out examples scored (TINY's eval.max_examples).
EXAMPLES = 6


@pytest.fixture(scope="module")
def base_outputs(tmp_path_factory):
    """(folder, in-process result): the toy base editor's held-out edits written as 8-bit PNGs at ``<task>/<id>.png``,
    as another tool would leave them, and the evaluation of the same edits before they were quantised."""
    import torch

    from editrl.cli.edit import write_image
    from editrl.engine.evaluation import evaluate_with_edits, load_editor

    folder = tmp_path_factory.mktemp("base_outputs")
    editor = load_editor(TOY_RECIPE, TINY)
    c, r = editor.components, editor.recipe
    examples = list(c.dataset.split("eval"))[: r.eval.max_examples]
    for metric in c.eval_metrics:
        metric.load(torch.device("cpu"))
    result, edits = evaluate_with_edits("base", c.backbone, c.solver, c.eval_metrics, examples, seed=r.eval.seed,
                                        batch_size=r.eval.batch_size, device=torch.device("cpu"), keep=len(examples))
    for example, edit in zip(examples, edits):
        write_image(folder / f"{example.task}/{example.id}.png", edit)  # the default output_name
    return folder, result, [f"{e.task}/{e.id}.png" for e in examples]


def test_score_reads_a_results_folder_like_the_evaluation(cli, tmp_path, base_outputs):
    folder, evaluated, _ = base_outputs
    out = tmp_path / "scores"
    result = cli("score", folder, TOY_RECIPE, *TINY, "-o", out, "--label", "other_editor")
    assert result.exit_code == 0, result.output
    (scored,) = json.loads((out / "eval.json").read_text())
    assert (out / "samples.png").is_file()
    assert scored["label"] == "other_editor" and scored["counts"] == evaluated.counts
    # the same edits, only rounded to 8 bits (≤ 1/510 per value): measured gaps 0.004 (judge), 0.01 dB, 4e-4 (SSIM)
    tolerance = {"toy_judge": 0.02, "masked_psnr/psnr_db": 0.05, "masked_ssim": 0.002}
    for task, means in evaluated.means.items():
        for metric, limit in tolerance.items():
            assert abs(scored["means"][task][metric] - means[metric]) < limit, (task, metric)


def test_missing_outputs_are_refused_or_skipped(cli, tmp_path, base_outputs):
    import shutil

    folder, _, names = base_outputs
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    for name in names[1:3]:
        (partial / name).unlink()
    refused = cli("score", partial, TOY_RECIPE, *TINY)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert f"2 of {EXAMPLES} outputs are missing from {partial} (expected {partial / names[1]}" in refused.output
    assert "--allow-missing scores those that exist" in refused.output
    assert not (partial / "eval.json").exists()
    allowed = cli("score", partial, TOY_RECIPE, *TINY, "--allow-missing")
    assert allowed.exit_code == 0, allowed.output
    assert f"scoring the {EXAMPLES - 2} that exist" in allowed.output
    (scored,) = json.loads((partial / "eval.json").read_text())  # default: next to the outputs
    assert scored["label"] == "partial" and scored["counts"]["all"] == EXAMPLES - 2
    nothing = cli("score", tmp_path / "empty_dir_that_is_not_there", TOY_RECIPE)
    assert nothing.exit_code == 2 and "is not a folder" in nothing.output


def test_metrics_that_need_the_sampler_are_refused(cli, base_outputs):
    folder, _, _ = base_outputs
    result = cli("score", folder, TOY_RECIPE, *TINY, "eval.metrics=[{type: acd}]")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "acd (needs attention) cannot score images produced elsewhere" in result.output


def _edit_folder(root: Path) -> list[dict]:
    """Four 32×32 8-bit examples: a random source, a square edit region, the target changed only inside it."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        source = (rng.random((32, 32, 3)) * 255).astype(np.uint8)  # [H, W, 3]
        mask = np.zeros((32, 32), np.uint8)
        mask[8:20, 4 + i : 16 + i] = 255
        target = source.copy()
        target[mask > 0] = (255, 0, 0)
        for kind, pixels in (("source", source), ("mask", mask), ("target", target)):
            (root / kind).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / kind / f"{i}.png")
        lines.append({"id": f"ex{i}", "task": "add" if i % 2 else "remove", "source": f"source/{i}.png",
                      "mask": f"mask/{i}.png", "target": f"target/{i}.png", "instruction": "add a red square"})
    for split in ("train", "eval"):
        (root / f"{split}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return lines


def test_outputs_equal_to_the_targets_score_the_psnr_cap(cli, tmp_path):
    """The targets differ from their sources only inside the mask, so as edits they preserve the background exactly:
    masked PSNR is its 100 dB cap (MSE 0); outputs at 64×64 are resized to the sources' 32×32."""
    data = tmp_path / "data"
    lines = _edit_folder(data)
    recipe = yaml.safe_load(TOY_RECIPE.read_text())
    recipe["dataset"] = {"type": "edit_folder", "root": str(data), "resolution": 32, "fields": ["mask", "target"]}
    recipe["eval"] = {"metrics": [{"type": "masked_psnr"}]}
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe))
    outputs = tmp_path / "outputs"
    for line in lines:  # the default output_name: <task>/<id>.png
        (outputs / line["task"]).mkdir(parents=True, exist_ok=True)
        (outputs / line["task"] / f"{line['id']}.png").write_bytes((data / line["target"]).read_bytes())
    result = cli("score", outputs, recipe_file)
    assert result.exit_code == 0, result.output
    (scored,) = json.loads((outputs / "eval.json").read_text())
    assert scored["counts"] == {"remove": 2, "add": 2, "all": 4, "mean_of_tasks": 2}  # 2 task types averaged
    for task in ("all", "add", "remove"):
        assert scored["means"][task]["masked_psnr/psnr_db"] == 100.0
        assert scored["means"][task]["masked_psnr"] == 1.0  # clamp(100 / 40, 0, 1)
    # an editor that writes 64×64: resized back (bicubic) and said so
    big = tmp_path / "big"
    for line in lines:
        (big / line["task"]).mkdir(parents=True, exist_ok=True)
        Image.open(data / line["target"]).resize((64, 64), Image.Resampling.NEAREST).save(
            big / line["task"] / f"{line['id']}.png")
    result = cli("score", big, recipe_file)
    assert result.exit_code == 0, result.output
    assert "4 of 4 outputs differ in size from their source and were resized to it (bicubic)" in result.output
    (scored,) = json.loads((big / "eval.json").read_text())
    assert 20.0 < scored["means"]["all"]["masked_psnr/psnr_db"] < 100.0  # close to the target, not equal to it


def test_help_shows_plain_flags(cli):
    text = cli("score", "--help").output
    assert "--allow-missing " in text and "<bool>" not in text and "dataset.output_name(example)" in text
