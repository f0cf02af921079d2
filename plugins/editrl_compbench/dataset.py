"""``compbench``: CompBench's local-editing subsets (add / remove / replace) as edit examples with mask, target and
local description, preprocessed exactly as CompBench's official scorer ``eval_all.py`` does (notes/eval_metrics.md
§1.4): RGB images resized with PIL's bicubic filter, the mask as ``L`` with nearest-neighbour, both to 512² by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from editrl.component import ComponentConfig
from editrl.data.heldout import HeldOut, split_ids
from editrl.data.inspection import SplitInspection
from editrl.errors import ResourceError
from editrl.interfaces import EditDataset, EditExample
from editrl_compbench.inspection import describe_record
from editrl_compbench.records import Record, folder_records, has_parquet, parquet_records

#: The subsets sharing the local-editing layout, with their sizes in the release (982 / 1331 / 152, §1.2).
LOCAL_TASKS = ("add", "remove", "replace")


class CompBenchConfig(ComponentConfig):
    root: str
    """CompBench's ``tasks`` folder (``<root>/<task>/metadata.json`` and ``input_image``, ``edited_image``, ``mask``
    beside it), or its Hugging Face parquet export: a ``.parquet`` file or a folder holding them."""
    layout: Literal["auto", "folder", "parquet"] = "auto"
    """``auto``: the folder layout where ``<root>/<task>/metadata.json`` exists, else the parquet files under root."""
    subsets: list[Literal["add", "remove", "replace"]] = Field(default_factory=lambda: list(LOCAL_TASKS), min_length=1)
    """Which local-editing tasks to read (the RC-GRPO paper evaluates all three); each example's task is its subset."""
    resolution: int = Field(512, ge=16, le=4096)
    """Images are resized to resolution × resolution (PIL bicubic; masks nearest). 512, because CompBench's scorer
    resizes source, ground truth, mask and edit to 512² before every metric (its images are 640²), so that numbers
    computed here are on the very pixels the official scorer sees; editrl's FLUX/Qwen recipes also edit at 512²."""
    heldout: HeldOut | None = None
    """The evaluation examples. Unset: all of them, as the benchmark is scored, and no training split. Set (ids or
    fraction), the others form the training split."""


class CompBench(EditDataset):
    """CompBench (Jia et al. 2025) local editing: source, instruction, edit mask (white = edit), ground-truth edit and
    the ``caption`` as local description; example id = ``image_path``, task = subset.

    The mask is kept as ``mask / 255`` (binary for CompBench's 0/255 masks), as ``eval_all.py`` zero-fills with it.
    Edited images for ``editrl score`` are looked up as ``<outputs>/<task>/<image_path>``, CompBench's results layout.
    """

    name = "compbench"
    Config = CompBenchConfig
    provides = frozenset({"mask", "target", "description"})

    @cached_property
    def records(self) -> list[Record]:
        """Every record of the configured subsets, read once (texts only; images open lazily)."""
        root = Path(self.config.root)
        if not root.exists():
            raise ResourceError(f"dataset.root: {root} does not exist (expected CompBench's tasks folder or parquet)")
        layout = self.config.layout
        if layout == "auto":
            is_folder = root.is_dir() and any((root / t / "metadata.json").is_file() for t in self.config.subsets)
            layout = "folder" if is_folder or not has_parquet(root) else "parquet"
        read = folder_records if layout == "folder" else parquet_records
        return read(root, list(self.config.subsets))

    def chosen(self, name: Literal["train", "eval"]) -> list[Record]:
        """The records of a split, in the dataset's order (see ``heldout``)."""
        records = self.records
        if self.config.heldout is None:
            return list(records) if name == "eval" else []
        root = Path(self.config.root)
        base = root if root.is_dir() else root.parent  # a relative id file lies beside a single parquet file
        train, evaluation = split_ids([r.image_path for r in records], self.config.heldout, base)
        return [records[i] for i in (evaluation if name == "eval" else train)]

    def split(self, name: Literal["train", "eval"]) -> Sequence[EditExample]:
        return _CompBenchSplit(self.chosen(name), self.config.resolution)

    def inspect(self, name: Literal["train", "eval"]) -> SplitInspection:
        """The folder layout from file headers (sources and targets verified, masks decoded), each problem naming the
        file and the ``metadata.json`` entry; the parquet export by loading each example (its images are bytes
        inside the file: there is no cheaper test)."""
        try:
            records = self.chosen(name)
        except ResourceError as exc:
            return SplitInspection(name=name, size=0, examples=[], source=self.config.root, problems=[str(exc)])
        if records and records[0].files is None:
            return super().inspect(name)
        infos = [describe_record(r, self.config.resolution) for r in records]
        return SplitInspection(name=name, size=len(records), examples=infos, source=f"{self.config.root} ({name})")

    def output_name(self, example: EditExample) -> str:
        """Where an external editor's result for ``example`` lies in a CompBench results folder: ``task/image_path``."""
        return f"{example.task}/{example.id}"


class _CompBenchSplit(Sequence[EditExample]):
    def __init__(self, records: list[Record], resolution: int) -> None:
        self.records, self.resolution = records, resolution

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> EditExample:
        r = self.records[index]
        return EditExample(
            id=r.image_path,
            source=pil_to_tensor(r.opener("input_image"), self.resolution, "RGB"),
            instruction=r.instruction,
            mask=pil_to_tensor(r.opener("mask"), self.resolution, "L"),
            target=pil_to_tensor(r.opener("edited_image"), self.resolution, "RGB"),
            description=r.caption,
            task=r.task,
        )


def pil_to_tensor(image: Image.Image, resolution: int, mode: Literal["RGB", "L"]) -> torch.Tensor:
    """``eval_all.py``'s preprocessing: ``image.convert(mode).resize((R, R), BICUBIC for RGB / NEAREST for L) / 255``.

    Returns:
        ``[3, R, R]`` (RGB) or ``[1, R, R]`` (L) float32 in [0, 1].
    """
    resample = Image.Resampling.NEAREST if mode == "L" else Image.Resampling.BICUBIC
    resized = image.convert(mode).resize((resolution, resolution), resample)
    array = np.asarray(resized, dtype=np.uint8).reshape(resolution, resolution, -1)  # [R, R, C]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255.0  # [C, R, R]
