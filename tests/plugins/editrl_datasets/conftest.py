"""A builder of tiny ``edit_folder`` trees (32×32 PNGs written with PIL) for the data-check tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

#: An instruction of the toy editor's vocabulary.
INSTRUCTION = "add a red circle at the center"


class Tree:
    """An ``edit_folder`` root: ``image``/``mask`` write files, ``record`` one manifest entry, ``write`` a split."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "img").mkdir(parents=True, exist_ok=True)

    def image(self, name: str, size: tuple[int, int] = (32, 32), mode: str = "RGB", fmt: str = "PNG") -> str:
        rng = np.random.default_rng(len(name))
        pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)  # [H, W, 3]
        Image.fromarray(pixels).convert(mode).save(self.root / "img" / name, fmt)
        return f"img/{name}"

    def mask(self, name: str, size: tuple[int, int] = (32, 32), box: tuple[int, int, int, int] = (8, 8, 16, 16),
             grey: int | None = None) -> str:
        """A black mask with a white box ``(top, left, height, width)``; ``grey`` adds one pixel of that level."""
        pixels = np.zeros(size, dtype=np.uint8)  # [H, W]
        t, l, h, w = box
        pixels[t : t + h, l : l + w] = 255
        if grey is not None:
            pixels[0, 0] = grey
        Image.fromarray(pixels).save(self.root / "img" / name)
        return f"img/{name}"

    def record(self, i: int, **changes) -> dict:
        """A valid example ``i`` (source, target and mask written), with ``changes`` applied to its record."""
        record = {
            "id": f"ex{i}", "source": self.image(f"src{i}.png"), "target": self.image(f"tgt{i}.png"),
            "mask": self.mask(f"mask{i}.png"), "instruction": INSTRUCTION, "task": "add",
        }  # fmt: skip
        record.update(changes)
        return record

    def write(self, split: str, lines: list) -> Path:
        """Write ``<root>/<split>.jsonl``: dicts as JSON, strings verbatim."""
        path = self.root / f"{split}.jsonl"
        path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
        return path

    def valid(self, train: int = 4, eval: int = 3) -> Tree:
        self.write("train", [self.record(i) for i in range(train)])
        self.write("eval", [self.record(100 + i) for i in range(eval)])
        return self

    def overrides(self, *extra: str) -> list[str]:
        """Overrides putting the toy recipe on this tree (32×32, masks and targets), then ``extra``."""
        spec = f"{{type: edit_folder, root: '{self.root}', resolution: 32, fields: [mask, target]}}"
        return [f"dataset={spec}", *extra]


@pytest.fixture
def tree(tmp_path) -> Tree:
    return Tree(tmp_path / "edits")
