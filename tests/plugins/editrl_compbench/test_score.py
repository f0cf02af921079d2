"""A tiny CompBench tree scored end to end by the real CLI: ``editrl score`` of an external editor's results folder
(``<task>/<image_path>``) with every CompBench metric of ``recipes/eval/compbench_flux.yaml``, and ``editrl validate``
refusing a broken tree with the files named."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests_support import REPO
from editrl_compbench.tiny import TINY_TASKS, build_tiny_compbench, tiny_examples

RECIPE = REPO / "recipes" / "eval" / "compbench_flux.yaml"
SIZE = 24  # the tree's images, scored at their own size (dataset.resolution=24): nothing is resized


def write_outputs(folder, shift: int = 51):
    """An "editor" whose result is the ground truth with the red channel of every background pixel moved by exactly
    ``shift`` grey levels (up below 128, down from 128), in CompBench's results layout."""
    for e in tiny_examples(size=SIZE):
        out = e["edited_image"].astype(np.int16)  # [H, W, 3]
        keep = e["mask"] == 0  # [H, W]
        red = out[..., 0]
        red[keep] = np.where(red[keep] < 128, red[keep] + shift, red[keep] - shift)
        path = folder / e["task"] / e["image_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(out.astype(np.uint8)).save(path)


def overrides(root, clip, size=SIZE):
    return [f"dataset.root={root}", f"dataset.resolution={size}", "eval.batch_size=4", "train.device=cpu",
            f"eval.metrics.3.model={clip}", f"eval.metrics.4.model={clip}"]


def test_score_a_compbench_results_folder(cli, tmp_path, random_squeezenet, tiny_clip):
    root = build_tiny_compbench(tmp_path / "tasks", size=SIZE)
    write_outputs(tmp_path / "results")
    result = cli("score", tmp_path / "results", RECIPE, *overrides(root, tiny_clip), "--json", "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    scored = json.loads((tmp_path / "ev" / "eval.json").read_text())
    means = (scored[0] if isinstance(scored, list) else scored["results"][0])["means"]
    assert set(means) == {"all", "mean_of_tasks", *TINY_TASKS}
    # The ground truth equals the source outside the mask, so the background error is the shift alone: one channel
    # of three off by 51/255 = 0.2 on each of the N_keep = 576 − 8·12 = 480 kept pixels (of N = 576).
    # masked:    MSE = 0.2² / 3 = 0.013333 → PSNR = 10·log10(75) = 18.7506 dB
    # zero-fill: MSE = 0.013333 · 480/576 = 0.011111 → PSNR = 10·log10(90) = 19.5424 dB (the reward's value)
    for task in ("all", *TINY_TASKS):
        m = means[task]
        assert m["compbench_psnr/psnr_masked"] == pytest.approx(18.7506, abs=1e-3)
        assert m["compbench_psnr/psnr_zero_fill"] == pytest.approx(19.5424, abs=1e-3)
        assert m["compbench_psnr"] == m["compbench_psnr/psnr_zero_fill"]
        assert 0 < m["compbench_ssim/ssim_masked"] < 1 and 0 < m["compbench_ssim/ssim_zero_fill"] < 1
        assert m["compbench_lpips/lpips_zero_fill"] > 0 and m["compbench_lpips/lpips_masked"] > 0
        assert m["compbench_lc_i"] == pytest.approx(1.0, abs=1e-5)  # the crops are inside the mask: untouched
        assert "compbench_lc_t" in m  # reported; its value against the tiny CLIP's own features: test_local_clip.py
    assert (tmp_path / "ev" / "samples.png").is_file()


def test_validate_checks_every_compbench_example_up_front(cli, tmp_path):
    root = build_tiny_compbench(tmp_path / "tasks", size=SIZE)
    held = ["dataset.heldout.fraction=0.5", f"dataset.root={root}", f"dataset.resolution={SIZE}"]
    ok = cli("validate", RECIPE, *held)
    assert ok.exit_code == 0 and "data checked (compbench)" in ok.output, ok.output
    first = tiny_examples(size=SIZE)[0]
    (root / "add" / "mask" / first["image_path"]).write_bytes(b"\x89PNG not really")
    grey = (np.arange(SIZE * SIZE).reshape(SIZE, SIZE) % 7 * 30).astype(np.uint8)
    Image.fromarray(grey).save(root / "remove" / "mask" / tiny_examples(size=SIZE)[3]["image_path"])
    bad = cli("validate", RECIPE, *held)
    assert bad.exit_code == 2
    assert "add/metadata.json entry 0: mask" in bad.output and "not an image PIL can read" in bad.output
    assert "remove/metadata.json entry 0: mask" in bad.output and "not black/white (7 grey levels)" in bad.output


@pytest.mark.slow
def test_eval_the_recipe_on_tiny_flux(cli, tmp_path, random_squeezenet, tiny_clip):
    """``editrl eval RECIPE``: the recipe's FLUX.1 Kontext path (a tiny random pipeline) edits the tiny tree at 32²
    and every CompBench metric scores it, per task and overall (≈ 40 s on 2 cores, mostly building the pipeline)."""
    from editrl_flux.tiny import build_tiny_kontext

    build_tiny_kontext(tmp_path / "kontext")
    root = build_tiny_compbench(tmp_path / "tasks", size=32)
    flux = [f"backbone.model={tmp_path / 'kontext'}", "backbone.dtype=fp32", "backbone.max_sequence_length=16",
            "backbone.gradient_checkpointing=false"]
    result = cli("eval", RECIPE, *overrides(root, tiny_clip, size=32), *flux, "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    (scored,) = json.loads((tmp_path / "ev" / "eval.json").read_text())
    for task in ("all", *TINY_TASKS):
        m = scored["means"][task]
        # zero-fill PSNR exceeds the masked one by 10·log10(N / N_keep) with N_keep / N = 1 − 10·16/32² = 0.84375
        # (the 10 × 16 masks at 32²): 0.7379 dB
        assert m["compbench_psnr/psnr_zero_fill"] - m["compbench_psnr/psnr_masked"] == pytest.approx(0.7379, abs=1e-3)
        assert all(v is not None for v in m.values())
