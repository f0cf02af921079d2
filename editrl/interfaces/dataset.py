"""Datasets of edit examples: a source image, an instruction, and what the dataset knows about the edit."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

import torch

from editrl.component import Component

if TYPE_CHECKING:
    from editrl.data.inspection import SplitInspection

#: What an example may carry beyond source and instruction; datasets declare the subset they provide.
EXAMPLE_FIELDS = frozenset({"mask", "target", "description"})


@dataclass
class EditExample:
    """One edit. Images are float tensors in [0, 1]."""

    id: str
    source: torch.Tensor  # [3, H, W]
    instruction: str
    mask: torch.Tensor | None = None  # [1, H, W], 1 = edit region (editrl's convention everywhere)
    target: torch.Tensor | None = None  # [3, H, W], the ground-truth edited image
    description: str | None = None  # short local description of the target (LC-T)
    task: str = "edit"  # task type, for per-type evaluation tables ("add", "remove", ...)


@dataclass
class EditBatch:
    """N examples collated. Optional fields are None unless every example has them."""

    ids: list[str]
    source: torch.Tensor  # [N, 3, H, W]
    instructions: list[str]
    mask: torch.Tensor | None  # [N, 1, H, W]
    target: torch.Tensor | None  # [N, 3, H, W]
    descriptions: list[str] | None
    tasks: list[str]

    @classmethod
    def collate(cls, examples: Sequence[EditExample]) -> EditBatch:
        def stack(attr: str) -> torch.Tensor | None:
            values = [getattr(e, attr) for e in examples]
            return None if any(v is None for v in values) else torch.stack(values)

        descriptions = [e.description for e in examples]
        return cls(
            ids=[e.id for e in examples],
            source=torch.stack([e.source for e in examples]),
            instructions=[e.instruction for e in examples],
            mask=stack("mask"),
            target=stack("target"),
            descriptions=None if any(d is None for d in descriptions) else descriptions,  # type: ignore[arg-type]
            tasks=[e.task for e in examples],
        )

    def __len__(self) -> int:
        return len(self.ids)

    def to(self, device: torch.device | str) -> EditBatch:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return EditBatch(
            self.ids, move(self.source), self.instructions, move(self.mask), move(self.target),
            self.descriptions, self.tasks,
        )


class EditDataset(Component):
    """A source of edit examples with a training split and a fixed held-out evaluation split."""

    kind: ClassVar[str] = "dataset"
    #: Which of :data:`EXAMPLE_FIELDS` every example of this dataset carries.
    provides: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def provided(cls, config) -> frozenset[str]:
        """What examples carry under ``config`` (default: the class's ``provides``); checked at validation."""
        return cls.provides

    @abstractmethod
    def split(self, name: Literal["train", "eval"]) -> Sequence[EditExample]:
        """Return the examples of a split. Must be deterministic for a given config."""

    def output_name(self, example: EditExample) -> str:
        """Where an external editor's output for ``example`` lives in a results folder, relative to it (``editrl
        score`` reads it there). Default: ``<task>/<id>.png``; datasets with a benchmark's own layout override it."""
        return f"{example.task}/{example.id}.png"

    def inspect(self, name: Literal["train", "eval"]) -> SplitInspection:
        """Describe every example of a split for the up-front data check (``editrl validate``, the start of ``editrl
        run``, ``editrl data summary``): where it comes from, sizes, mask area, and why it is unusable, if it is.

        Default: load each example of :meth:`split` and describe its tensors. Datasets of files override it to read
        headers instead of pixels (see ``edit_folder``); the returned problems name the file and manifest line.
        """
        from editrl.data.inspection import describe_loaded

        return describe_loaded(name, self.split(name), f"dataset {self.name!r} split {name!r}")
