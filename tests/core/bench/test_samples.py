"""The held-out samples a run saves (samples.safetensors + samples.png) and the image sheet they are drawn with."""

from __future__ import annotations

import pytest
import torch

from editrl.bench.sheet import save_sheet
from editrl.engine.evaluation import load_samples, save_samples
from editrl.interfaces import EditExample


def _example(i: int, target: bool = True) -> EditExample:
    g = torch.Generator().manual_seed(i)
    return EditExample(
        id=f"ex{i}", source=torch.rand(3, 8, 8, generator=g), instruction=f"add shape {i}",
        target=torch.rand(3, 8, 8, generator=g) if target else None, task="add" if i % 2 else "remove",
    )


def test_samples_round_trip_and_sheet(tmp_path):
    from matplotlib.image import imread

    examples = [_example(i) for i in range(3)]
    base, trained = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    save_samples(tmp_path, examples, base, trained)
    images, meta = load_samples(tmp_path / "samples.safetensors")
    assert set(images) == {"source", "base", "trained", "target"}
    assert torch.equal(images["trained"], trained) and torch.equal(images["source"][2], examples[2].source)
    assert meta == {"ids": ["ex0", "ex1", "ex2"], "tasks": ["remove", "add", "remove"],
                    "instructions": ["add shape 0", "add shape 1", "add shape 2"]}
    sheet = imread(tmp_path / "samples.png")  # [H, W, 4]
    assert sheet.shape[0] > 100 and sheet.shape[1] > sheet.shape[0]  # 3 rows × 4 columns, wider than tall


def test_samples_without_targets(tmp_path):
    save_samples(tmp_path, [_example(0, target=False)], torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    images, _ = load_samples(tmp_path / "samples.safetensors")
    assert set(images) == {"source", "base", "trained"}


def test_sheet_rejects_mismatched_columns(tmp_path):
    with pytest.raises(ValueError, match=r"sheet column 'b': expected \[2, 3, H, W\], got \[1, 3, 4, 4\]"):
        save_sheet(tmp_path / "x.png", {"a": torch.rand(2, 3, 4, 4), "b": torch.rand(1, 3, 4, 4)}, ["r0", "r1"])
