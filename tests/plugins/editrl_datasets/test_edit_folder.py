import json

import numpy as np
import pytest
from PIL import Image

from editrl.errors import ResourceError
from editrl_datasets.edit_folder import EditFolder


def make_folder(tmp_path, lines):
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[:, :, 0] = 255  # red
    Image.fromarray(rgb).save(tmp_path / "src.png")
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[:4] = 255  # top half white
    Image.fromarray(mask).save(tmp_path / "mask.png")
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return tmp_path


def dataset(root, **kw):
    return EditFolder(EditFolder.Config(root=str(root), resolution=16, **kw))


def test_loads_images_masks_and_conventions(tmp_path):
    root = make_folder(tmp_path, [{"source": "src.png", "instruction": "make it blue", "mask": "mask.png", "task": "x"}])
    ex = dataset(root).split("train")[0]
    assert ex.source.shape == (3, 16, 16)  # resized from 8 × 8
    assert float(ex.source[0].mean()) == 1.0 and float(ex.source[1].max()) == 0.0
    assert ex.mask.shape == (1, 16, 16) and float(ex.mask[0, :8].mean()) == 1.0 and float(ex.mask[0, 8:].max()) == 0
    assert ex.target is None and ex.task == "x" and ex.id == "0"
    flipped = dataset(root, mask_convention="white_is_keep").split("train")[0]
    assert float(flipped.mask[0, :8].max()) == 0 and float(flipped.mask[0, 8:].mean()) == 1  # 1 = edit in editrl


def test_declared_fields_are_what_validation_sees(tmp_path):
    assert EditFolder.provided(EditFolder.Config(root="x", fields=["mask", "target"])) == {"mask", "target"}


def test_clear_errors(tmp_path):
    root = make_folder(tmp_path, [{"source": "src.png", "instruction": "x"}])
    with pytest.raises(ResourceError, match=r"train.jsonl:1: missing mask"):
        dataset(root).split("train")
    with pytest.raises(ResourceError, match="eval.jsonl not found"):
        dataset(root).split("eval")
    root2 = make_folder(tmp_path, [{"source": "nope.png", "instruction": "x", "mask": "mask.png"}])
    with pytest.raises(ResourceError, match="cannot read image"):
        dataset(root2).split("train")[0]
