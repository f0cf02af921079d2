"""The ``compbench`` dataset reads a tiny CompBench tree in both forms (eval_all.py's folders, the HF parquet export)
end to end, with eval_all.py's preprocessing, the held-out split, the results-folder names and clear errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from editrl.errors import ResourceError
from editrl.testing import check_component
from editrl_compbench.dataset import CompBench
from editrl_compbench.tiny import TINY_TASKS, build_tiny_compbench, tiny_examples

LAYOUTS = ["folder", pytest.param("parquet", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("pyarrow") is None, reason="pyarrow is not installed"))]


def dataset(root, **kw):
    return CompBench(CompBench.Config(root=str(root), **kw))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reads_every_local_editing_example_end_to_end(tmp_path, layout):
    root = build_tiny_compbench(tmp_path / layout, layout=layout, size=24)
    evaluation = dataset(root, resolution=32).split("eval")
    written = tiny_examples(size=24)
    assert len(evaluation) == sum(TINY_TASKS.values()) == len(written)
    assert len(dataset(root).split("train")) == 0  # no held-out selection: the whole benchmark is evaluated
    for example, raw in zip(evaluation, written, strict=True):  # subsets in order, then metadata / row order
        assert (example.id, example.task) == (raw["image_path"], raw["task"])
        assert (example.instruction, example.description) == (raw["instruction"], raw["caption"])
        # eval_all.py's preprocessing: RGB bicubic, mask L nearest, both to the resolution, / 255
        bicubic = np.asarray(Image.fromarray(raw["input_image"]).resize((32, 32), Image.Resampling.BICUBIC))
        assert torch.equal(example.source, torch.from_numpy(bicubic.copy()).permute(2, 0, 1).float() / 255)
        nearest = np.asarray(Image.fromarray(raw["mask"]).resize((32, 32), Image.Resampling.NEAREST))
        assert torch.equal(example.mask[0], torch.from_numpy(nearest.copy()).float() / 255)
        assert set(example.mask.unique().tolist()) == {0.0, 1.0}  # white = edit = 1
        assert example.target.shape == (3, 32, 32) and not torch.equal(example.target, example.source)
        # an external editor's output is looked up in CompBench's results layout: <task>/<image_path>
        assert CompBench(CompBench.Config(root=str(root))).output_name(example) == f"{raw['task']}/{raw['image_path']}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_subsets_and_held_out_split(tmp_path, layout):
    root = build_tiny_compbench(tmp_path / layout, layout=layout)
    only = dataset(root, subsets=["replace", "add"]).split("eval")
    assert [e.task for e in only] == ["replace"] * TINY_TASKS["replace"] + ["add"] * TINY_TASKS["add"]
    ids = [e.id for e in dataset(root).split("eval")]
    picked = dataset(root, heldout={"ids": [ids[1], ids[4]]})
    assert [e.id for e in picked.split("eval")] == [ids[1], ids[4]]
    assert [e.id for e in picked.split("train")] == [i for n, i in enumerate(ids) if n not in (1, 4)]
    by_fraction = dataset(root, heldout={"fraction": 0.5, "seed": 1})
    train, evaluation = ([e.id for e in by_fraction.split(s)] for s in ("train", "eval"))
    assert sorted(train + evaluation) == sorted(ids) and not set(train) & set(evaluation)


def test_folder_and_parquet_read_the_same_examples(tmp_path):
    pytest.importorskip("pyarrow")
    folder = dataset(build_tiny_compbench(tmp_path / "f", layout="folder"), resolution=16).split("eval")
    parquet = dataset(build_tiny_compbench(tmp_path / "p", layout="parquet"), resolution=16).split("eval")
    for a, b in zip(folder, parquet, strict=True):
        assert a.id == b.id and torch.equal(a.source, b.source) and torch.equal(a.mask, b.mask)
        assert torch.equal(a.target, b.target)


def test_keeps_the_dataset_contract(tmp_path):
    root = build_tiny_compbench(tmp_path / "tree")
    passed = check_component(CompBench, {"root": str(root), "resolution": 16, "heldout": {"fraction": 0.5}})
    assert "split.deterministic" in passed and "example.mask" in passed


def test_clear_errors(tmp_path):
    with pytest.raises(ResourceError, match="does not exist"):
        dataset(tmp_path / "nowhere").split("eval")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResourceError, match=r"add/metadata.json not found .*folders found: none"):
        dataset(tmp_path / "empty").split("eval")
    root = build_tiny_compbench(tmp_path / "tree")
    (root / "remove" / "metadata.json").write_text('[{"image_path": "x.png", "instruction": "remove it"}]')
    with pytest.raises(ResourceError, match=r"remove/metadata.json: entry 0 lacks caption"):
        dataset(root).split("eval")
    (root / "remove" / "metadata.json").write_text('{"image_path": 1}')
    with pytest.raises(ResourceError, match="expected a JSON array"):
        dataset(root).split("eval")
    (root / "remove" / "metadata.json").write_text("[\n{]")
    with pytest.raises(ResourceError, match=r"metadata.json:2: not JSON"):
        dataset(root).split("eval")
    entry = json.loads((root / "add" / "metadata.json").read_text())[0]
    (root / "add" / "mask" / entry["image_path"]).unlink()
    with pytest.raises(ResourceError, match=r"cannot read image .*add/mask/"):
        dataset(root, subsets=["add"]).split("eval")[0]


def test_parquet_errors(tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    (tmp_path / "bad").mkdir()
    pq.write_table(pa.table({"task": ["add"], "image_path": ["a.png"]}), tmp_path / "bad" / "x.parquet")
    with pytest.raises(ResourceError, match=r"x.parquet: lacks the CompBench column\(s\) instruction, caption"):
        dataset(tmp_path / "bad").split("eval")
    (tmp_path / "bad" / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(ResourceError, match="cannot read parquet file"):
        dataset(tmp_path / "bad").split("eval")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # as if pyarrow were not installed
    with pytest.raises(ResourceError, match=r"needs pyarrow \(pip install 'editrl\[compbench\]'\)"):
        dataset(tmp_path / "bad", layout="parquet").split("eval")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_inspection_describes_every_example(tmp_path, layout):
    root = build_tiny_compbench(tmp_path / layout, layout=layout, size=24)
    inspection = dataset(root, resolution=32).inspect("eval")
    assert inspection.size == len(inspection.examples) == sum(TINY_TASKS.values()) and not inspection.problems
    for info, raw in zip(inspection.examples, tiny_examples(size=24), strict=True):
        assert (info.id, info.task, info.problems) == (raw["image_path"], raw["task"], [])
        assert info.shape == (32, 32)
        # the tiny masks are 8 × 12 rectangles of a 24 × 24 image: area 96 / 576 (after the nearest resize for the
        # parquet form, whose inspection loads the examples: 32² has the same share up to the rounding of rows)
        assert info.mask_area == pytest.approx(96 / 576, abs=0.03)
    if layout == "folder":  # headers, with the metadata entry as the locator
        assert inspection.examples[0].where.endswith("add/metadata.json entry 0")
        assert inspection.examples[0].stored_size == (24, 24)
    assert dataset(root).inspect("train").size == 0  # no held-out selection: no training split
