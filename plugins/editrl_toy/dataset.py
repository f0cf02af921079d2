"""``toy_shapes``: the procedural edit dataset of the toy world, with ground-truth targets and masks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal, overload

import numpy as np
import torch
from pydantic import Field, model_validator

from editrl.component import ComponentConfig
from editrl.data.inspection import SplitInspection, describe_example
from editrl.interfaces import EditDataset, EditExample
from editrl_toy.world import TASKS, make_edit

#: Seed-stream ids of the splits; the eval split never shares a generator state with the train split.
STREAMS = {"train": 0, "eval": 1}
#: Examples of a split the data check generates and describes (procedural splits are valid by construction).
DESCRIBED = 192


class ToyShapesConfig(ComponentConfig):
    seed: int = Field(0, ge=0, le=2**63 - 1)
    """Seed of the procedural world; example ``i`` of a split depends only on (seed, split, i)."""
    train_size: int = Field(1_000_000, ge=3, le=10**9)
    """Examples in the train split (generated lazily on access, so a large value costs nothing)."""
    eval_size: int = Field(96, ge=3, le=100_000)
    """Examples in the held-out eval split; a multiple of 3 so that add, remove and replace are balanced."""
    mask_dilation: int = Field(1, ge=0, le=3)
    """Pixels by which the footprint of the change is dilated to make the edit mask."""

    @model_validator(mode="after")
    def _balanced(self) -> ToyShapesConfig:
        if self.eval_size % len(TASKS):
            raise ValueError(f"eval_size must be a multiple of {len(TASKS)} (balanced task types), got {self.eval_size}")
        return self


class ToyShapesSplit(Sequence[EditExample]):
    """A lazily generated, deterministic split: item ``i`` is drawn from ``numpy``'s generator seeded by
    ``(seed, stream, i)`` and has task type ``TASKS[i % 3]``."""

    def __init__(self, name: str, size: int, seed: int, mask_dilation: int) -> None:
        self.name = name
        self.size = size
        self.seed = seed
        self.mask_dilation = mask_dilation

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> EditExample: ...
    @overload
    def __getitem__(self, index: slice) -> list[EditExample]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        i = int(index)
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(f"toy_shapes {self.name} split has {self.size} examples; index {index} is out of range")
        rng = np.random.default_rng([self.seed, STREAMS[self.name], i])
        edit = make_edit(rng, TASKS[i % len(TASKS)], self.mask_dilation)
        return EditExample(
            id=f"toy_shapes/{self.name}/s{self.seed}/{i}",
            source=torch.from_numpy(edit.source),
            instruction=edit.instruction,
            mask=torch.from_numpy(edit.mask),
            target=torch.from_numpy(edit.target),
            description=edit.description,
            task=edit.task,
        )


class ToyShapes(EditDataset):
    """Procedural 32×32 shape edits (add / remove / replace) with ground-truth targets, masks and descriptions."""

    name = "toy_shapes"
    Config: ClassVar[type[ToyShapesConfig]] = ToyShapesConfig
    provides: ClassVar[frozenset[str]] = frozenset({"mask", "target", "description"})
    config: ToyShapesConfig

    def split(self, name: Literal["train", "eval"]) -> Sequence[EditExample]:
        """The ``"train"`` split (``train_size`` examples) or the fixed held-out ``"eval"`` split."""
        if name not in STREAMS:
            raise ValueError(f"toy_shapes has splits 'train' and 'eval', not {name!r}")
        size = self.config.train_size if name == "train" else self.config.eval_size
        return ToyShapesSplit(name, size, self.config.seed, self.config.mask_dilation)

    def inspect(self, name: Literal["train", "eval"]) -> SplitInspection:
        """The first :data:`DESCRIBED` examples of the split, generated and described (every example is a 32×32 RGB
        edit of the toy world, valid by construction; a million-example train split is not walked)."""
        split = self.split(name)
        shown = min(len(split), DESCRIBED)
        where = f"toy_shapes {name} split (seed {self.config.seed})"
        examples = [describe_example(split[i], f"{where} example {i}") for i in range(shown)]
        note = "" if shown == len(split) else f"procedural: the first {shown} of {len(split)} examples described"
        return SplitInspection(name=name, size=len(split), examples=examples, source=where, note=note)
