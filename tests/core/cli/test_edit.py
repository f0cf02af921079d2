"""``editrl edit`` on the toy editor: a recipe's base editor or a run's trained one, the single-path deterministic
sampler from the seed's noise (no mask, no perturbation), sources resized to 32×32, bad input refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests_support import TINY, TOY_RECIPE

#: 4 Euler steps instead of 8: the same sampler, half the time.
FAST = ["solver.steps=4"]
INSTRUCTION = "add a red circle at the center"


def _png(path: Path, size: int, seed: int) -> Path:
    pixels = (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)  # [H, W, 3]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)  # [H, W, 3]


def assert_refused(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 2-step toy run with a large learning rate, so that its LoRA visibly changes the edits."""
    from typer.testing import CliRunner

    from editrl.cli import build_app

    out = tmp_path_factory.mktemp("edit_run") / "run"
    args = ["run", TOY_RECIPE, *TINY, *FAST, "train.steps=2", "train.lr=0.05", "eval.at_end=false", f"output_dir={out}"]
    result = CliRunner().invoke(build_app(), [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_edit_resizes_the_source_and_runs_the_deterministic_sampler(cli, tmp_path):
    from editrl.cli.edit import read_image
    from editrl.engine.evaluation import load_editor, sample_edits
    from editrl.interfaces import EditExample

    source = _png(tmp_path / "in.png", 64, seed=0)
    out = tmp_path / "out" / "edit.png"
    result = cli("edit", TOY_RECIPE, *FAST, "--source", source, "--instruction", INSTRUCTION, "-o", out, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert f"resized {source} from 64×64 to 32×32 (the size toy_editor edits)" in result.output
    assert "with the base editor" in result.output
    edited = _pixels(out)
    assert edited.shape == (32, 32, 3)
    # the same edit in-process: the source read at 32×32 (bicubic), one path from seed 3's noise, no mask
    editor = load_editor(TOY_RECIPE, FAST)
    example = EditExample(id="in", source=read_image(source, (32, 32)), instruction=INSTRUCTION)
    noise = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))  # [1, 3, 32, 32]
    (sampled,) = sample_edits(editor.components.backbone, editor.components.solver, [example], noise, batch_size=1,
                              device=torch.device("cpu"))
    expected = (sampled.images[0].clamp(0, 1) * 255).round().to(torch.int16).permute(1, 2, 0).numpy()  # [H, W, 3]
    assert np.abs(edited - expected).max() <= 1  # at most one 8-bit level (rounding)
    # the seed decides the noise: the same seed, the same image; another seed, another image
    again, other = tmp_path / "again.png", tmp_path / "other.png"
    assert cli("edit", TOY_RECIPE, *FAST, "--source", source, "--instruction", INSTRUCTION, "-o", again,
               "--seed", 3).exit_code == 0
    assert cli("edit", TOY_RECIPE, *FAST, "--source", source, "--instruction", INSTRUCTION, "-o", other,
               "--seed", 4).exit_code == 0
    assert np.array_equal(_pixels(again), edited)
    assert np.abs(_pixels(other) - edited).max() > 8


def test_edit_a_folder_from_jsonl_and_with_a_runs_lora(cli, tmp_path, trained_run):
    folder = tmp_path / "sources"
    _png(folder / "a.png", 32, seed=1)
    _png(folder / "sub" / "b.png", 32, seed=2)
    jobs = tmp_path / "edits.jsonl"
    jobs.write_text(
        json.dumps({"source": "a.png", "instruction": INSTRUCTION}) + "\n\n"
        + json.dumps({"source": "sub/b.png", "instruction": "remove the blue square", "output": "b_edit.png"}) + "\n"
    )
    out = tmp_path / "edited"
    result = cli("edit", TOY_RECIPE, *FAST, "--source", folder, "--instructions", jobs, "-o", out)
    assert result.exit_code == 0, result.output
    assert "edited 2 image(s)" in result.output and "resized" not in result.output
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a.png", "b_edit.png"]
    # an image's edit does not depend on the folder it is in: a.png alone, same seed (0), same pixels
    alone = tmp_path / "alone.png"
    assert cli("edit", TOY_RECIPE, *FAST, "--source", folder / "a.png", "--instruction", INSTRUCTION,
               "-o", alone).exit_code == 0
    assert np.array_equal(_pixels(alone), _pixels(out / "a.png"))
    # a run directory edits with its latest checkpoint's LoRA: the same image, the same seed, another edit
    trained = tmp_path / "trained.png"
    result = cli("edit", trained_run, "--source", folder / "a.png", "--instruction", INSTRUCTION, "-o", trained)
    assert result.exit_code == 0, result.output
    assert f"with the trained editor of {trained_run} (step 2)" in result.output
    assert np.abs(_pixels(trained) - _pixels(alone)).max() > 0


def test_bad_input_is_refused_before_anything_is_written(cli, tmp_path):
    source = _png(tmp_path / "in.png", 32, seed=0)
    out = tmp_path / "out.png"
    edit = lambda *args: cli("edit", TOY_RECIPE, *args)  # noqa: E731
    assert_refused(edit("--source", tmp_path / "nope.png", "--instruction", INSTRUCTION, "-o", out),
                   f"--source: {tmp_path / 'nope.png'} not found")
    assert_refused(edit("--source", source, "--instruction", "paint a unicorn", "-o", out),
                   "--source: toy_editor: instruction 'paint a unicorn' uses word 'paint'")
    assert_refused(edit("--source", source, "--instruction", INSTRUCTION, "-o", tmp_path / "out.jpg"),
                   "-o: expected the output image's path ending in .png")
    assert_refused(edit("--source", tmp_path, "--instruction", INSTRUCTION, "-o", tmp_path / "edited"),
                   "is a folder; give its edits with --instructions FILE.jsonl")
    broken = tmp_path / "broken.png"
    broken.write_bytes(source.read_bytes()[:60])  # cut inside the pixel data
    assert_refused(edit("--source", broken, "--instruction", INSTRUCTION, "-o", out), f"{broken}: truncated")
    jobs = tmp_path / "edits.jsonl"
    jobs.write_text("\n".join([
        json.dumps({"source": "in.png", "instruction": INSTRUCTION}),
        "{not json",
        json.dumps({"source": "in.png", "instructoin": INSTRUCTION}),
        json.dumps({"source": "missing.png", "instruction": INSTRUCTION}),
        json.dumps({"source": "in.png", "instruction": "remove the blue square"}),  # the same output as line 1
        json.dumps({"source": "in.png", "instruction": INSTRUCTION, "output": "../escape.png"}),
    ]) + "\n")
    assert_refused(edit("--source", tmp_path, "--instructions", jobs, "-o", tmp_path / "edited"),
                   f"{jobs}: 5 bad line(s):", f"{jobs}:2: not JSON", f"{jobs}:3: unknown keys ['instructoin']",
                   f"{jobs}:4: source {tmp_path / 'missing.png'} not found", f"{jobs}:5: output",
                   f"{jobs}:6: output '../escape.png' must be a .png path inside the -o folder")
    assert not out.exists() and not (tmp_path / "edited").exists()
