"""``edit_folder``: edit examples from a folder of images and a JSON-lines manifest per split."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import Field, model_validator

from editrl.component import ComponentConfig
from editrl.data.check import degenerate_reasons
from editrl.data.heldout import HeldOut, split_ids
from editrl.data.images import RGB_MODES, ImageFileError, decode_grey, edit_pixels, mask_stats, read_header
from editrl.data.inspection import ExampleInfo, SplitInspection, size_text
from editrl.errors import ResourceError
from editrl.interfaces import EditDataset, EditExample

OPTIONAL = ("mask", "target", "description")
#: Where a binary mask is cut when no ``mask_threshold`` is set (any value in (0, 1) gives the same pixels).
BINARY_CUT = 0.5


class EditFolderConfig(ComponentConfig):
    root: str
    """Folder holding ``train.jsonl`` and ``eval.jsonl``; image paths in them are relative to it."""
    resolution: int = Field(512, ge=16, le=4096)
    """Images are resized (bilinear; masks nearest) to resolution × resolution."""
    fields: list[Literal["mask", "target", "description"]] = ["mask"]
    """Which optional fields every record carries (checked on load); rewards and schemes may require them."""
    mask_convention: Literal["white_is_edit", "white_is_keep"] = "white_is_edit"
    """How mask images are drawn. editrl uses 1 = edit; CoCoEdit's released masks are white_is_keep."""
    mask_resize: Literal["refuse", "nearest", "bilinear"] = "refuse"
    """A mask whose size differs from its source's: ``refuse`` it (the data check names it), or resize it to the
    resolution by ``nearest`` neighbour or ``bilinear`` interpolation (then binarised at ``mask_threshold``)."""
    mask_threshold: float | None = Field(None, gt=0.0, lt=1.0)
    """Masks with grey levels (JPEG, anti-aliased) are binarised: white = grey value above this fraction of 255.
    null: masks must be pure black/white (0 and 255), others are refused."""
    heldout: HeldOut | None = None
    """Hold out evaluation examples from ``train.jsonl`` (by an id list or a fixed hashed fraction) instead of
    reading ``eval.jsonl``; the same ids are held out on every run."""
    drop_degenerate: bool = False
    """Leave degenerate examples out of every split (empty or full masks, sources converted from grayscale, RGBA or
    palette); false keeps and counts them."""

    @model_validator(mode="after")
    def _bilinear_needs_threshold(self) -> EditFolderConfig:
        if self.mask_resize == "bilinear" and self.mask_threshold is None:
            raise ValueError("mask_resize: bilinear makes grey levels; set mask_threshold (e.g. 0.5) to binarise them")
        return self


@dataclass
class _Line:
    """One manifest line: its record, or why it is not one."""

    number: int  # 1-based line in the manifest
    index: int  # position among the manifest's records (the default id)
    record: dict | None
    problem: str | None = None


class EditFolder(EditDataset):
    """Edit examples listed one per line in ``<root>/<split>.jsonl``.

    Each line: ``{"id": ..., "source": "img/0.png", "instruction": "...", "mask": "mask/0.png",
    "target": "img/0_edited.png", "description": "a red hat", "task": "replace"}`` — ``mask``, ``target`` and
    ``description`` as declared in ``fields``; ``id`` and ``task`` optional. Images load lazily; :meth:`inspect`
    reads image headers (and decodes the small masks) to check every line before anything trains.
    """

    name = "edit_folder"
    Config = EditFolderConfig
    config: EditFolderConfig

    def __init__(self, config: EditFolderConfig) -> None:
        super().__init__(config)
        self._inspections: dict[str, SplitInspection] = {}

    @classmethod
    def provided(cls, config) -> frozenset[str]:
        return frozenset(config.fields)

    def manifest(self, name: str) -> Path:
        """The file a split's lines come from: ``<root>/<name>.jsonl``, or ``train.jsonl`` for both splits when
        ``heldout`` selects the evaluation examples."""
        return Path(self.config.root) / f"{'train' if self.config.heldout else name}.jsonl"

    def split(self, name: Literal["train", "eval"]) -> Sequence[EditExample]:
        """The split's records (the first bad line raises, naming it); degenerate ones left out with
        ``drop_degenerate``."""
        manifest = self.manifest(name)
        lines = self._lines(name)
        for line in lines:
            if line.problem is not None:
                raise ResourceError(f"{manifest}:{line.number}: {line.problem}")
        if self.config.drop_degenerate:
            inspection = self.inspect(name)
            keep = {info.where for info in inspection.examples if not degenerate_reasons(info)}
            lines = [line for line in lines if f"{manifest}:{line.number}" in keep]
        return _FolderSplit(Path(self.config.root), lines, self.config)

    def _lines(self, name: str) -> list[_Line]:
        """Every non-blank manifest line, parsed; :class:`ResourceError` when the manifest itself is missing."""
        manifest = self.manifest(name)
        if not manifest.is_file():
            raise ResourceError(f"dataset.root: {manifest} not found (expected one JSON object per line)")
        try:
            text = manifest.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ResourceError(f"{manifest}: cannot be read as text ({exc})") from None
        lines = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            lines.append(_parse(number, len(lines), raw, self.config.fields))
        if self.config.heldout is None:
            return lines
        # held out from train.jsonl by id; a line that is not a record stays in train, where the check reports it
        ids = [str(line.record.get("id", line.index)) if line.record else "" for line in lines]
        train, held = split_ids(ids, self.config.heldout, Path(self.config.root))
        bad = [p for p, line in enumerate(lines) if line.record is None]
        chosen = held if name == "eval" else sorted({*train, *bad})
        return [lines[p] for p in chosen if name != "eval" or lines[p].record is not None]

    def inspect(self, name: Literal["train", "eval"]) -> SplitInspection:
        """Every line of ``<root>/<name>.jsonl`` described from file headers (sources and targets verified, not
        decoded; masks decoded). Problems name the manifest line and the file. Cached per split."""
        if name in self._inspections:
            return self._inspections[name]
        manifest = self.manifest(name)
        try:
            lines = self._lines(name)
        except ResourceError as exc:
            return SplitInspection(name=name, size=0, examples=[], source=str(manifest), problems=[str(exc)])
        infos = [self._describe(line, f"{manifest}:{line.number}") for line in lines]
        inspection = SplitInspection(
            name=name, size=len(lines), examples=infos, source=str(manifest),
            drops_degenerate=self.config.drop_degenerate,
        )
        self._inspections[name] = inspection
        return inspection

    def _describe(self, line: _Line, where: str) -> ExampleInfo:
        """1. the line parses; 2. the source's header; 3. the target's size; 4. the mask: size, binary, area."""
        if line.record is None:  # step 1
            return ExampleInfo(where=where, problems=[line.problem or "not a record"])
        r, c, root = line.record, self.config, Path(self.config.root)
        info = ExampleInfo(
            where=where, id=str(r.get("id", line.index)), task=str(r.get("task", "edit")),
            instruction=r["instruction"], shape=(c.resolution, c.resolution),
        )  # fmt: skip
        try:  # step 2
            source = read_header(root / r["source"])
        except ImageFileError as exc:
            info.problems.append(f"source {root / r['source']}: {exc}")
            return info
        info.stored_size = source.size
        info.converted = None if source.mode in RGB_MODES else source.mode
        if "target" in c.fields:  # step 3
            try:
                target = read_header(root / r["target"])
                if target.size != source.size:
                    info.problems.append(
                        f"target {root / r['target']} is {size_text(target.size)} but its source {root / r['source']} is "
                        f"{size_text(source.size)}; a target must have its source's size"
                    )
            except ImageFileError as exc:
                info.problems.append(f"target {root / r['target']}: {exc}")
        if "mask" in c.fields:  # step 4
            path = root / r["mask"]
            try:
                stats = mask_stats(path, _cut(c), c.mask_convention == "white_is_edit")
            except ImageFileError as exc:
                info.problems.append(f"mask {path}: {exc}")
                return info
            if stats.size != source.size and c.mask_resize == "refuse":
                info.problems.append(
                    f"mask {path} is {size_text(stats.size)} but its source {root / r['source']} is {size_text(source.size)}; "
                    "set dataset.mask_resize (nearest or bilinear) to resize masks, or fix the file"
                )
            if not stats.binary and c.mask_threshold is None:
                info.problems.append(
                    f"mask {path} is not black/white ({stats.levels} grey levels); set dataset.mask_threshold "
                    "(e.g. 0.5) to binarise masks, or fix the file"
                )
            info.mask_area = stats.area
        return info


def _parse(number: int, index: int, raw: str, fields: Sequence[str]) -> _Line:
    """One manifest line → a record with every required key (strings where paths and texts are expected)."""
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _Line(number, index, None, f"not JSON ({exc.msg})")
    if not isinstance(record, dict):
        return _Line(number, index, None, f"expected a JSON object, got {type(record).__name__}")
    missing = [k for k in ("source", "instruction", *fields) if k not in record]
    if missing:
        return _Line(number, index, None, f"missing {', '.join(missing)} (dataset.fields asks for them)")
    wrong = [k for k in ("source", "instruction", *fields) if not isinstance(record[k], str) or not record[k].strip()]
    if wrong:
        return _Line(number, index, None, f"{', '.join(wrong)}: expected a non-empty string")
    return _Line(number, index, record)


def _cut(config: EditFolderConfig) -> float:
    return BINARY_CUT if config.mask_threshold is None else config.mask_threshold


class _FolderSplit(Sequence[EditExample]):
    def __init__(self, root: Path, lines: list[_Line], config: EditFolderConfig) -> None:
        self.root, self.lines, self.config = root, lines, config

    def __len__(self) -> int:
        return len(self.lines)

    def _image(self, rel: str) -> torch.Tensor:
        """An RGB image resized (bilinear, antialiased) to the resolution: ``[3, R, R]`` in [0, 1]."""
        path = self.root / rel
        try:
            with Image.open(path) as img:
                rgb = np.asarray(img.convert("RGB"))  # [H, W, 3] uint8
        except (FileNotFoundError, OSError) as exc:
            raise ResourceError(f"dataset: cannot read image {path}: {exc}") from None
        t = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255  # [3, H, W]
        size = (self.config.resolution, self.config.resolution)
        return F.interpolate(t[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0].clamp(0, 1)

    def _mask(self, rel: str) -> torch.Tensor:
        """The mask resized to the resolution (nearest, or bilinear with ``mask_resize: bilinear``), binarised, in
        editrl's convention: ``[1, R, R]`` with 1 = edit."""
        c = self.config
        try:
            grey = decode_grey(self.root / rel, (c.resolution, c.resolution), bilinear=c.mask_resize == "bilinear")
        except ImageFileError as exc:
            raise ResourceError(f"dataset: cannot read mask {self.root / rel}: {exc}") from None
        edit = edit_pixels(grey, _cut(c), c.mask_convention == "white_is_edit")  # [R, R] bool
        return torch.from_numpy(edit)[None].float()  # [1, R, R]

    def __getitem__(self, index: int) -> EditExample:
        line = self.lines[index]
        r, fields = line.record, self.config.fields
        assert r is not None  # split() refuses lines without a record
        return EditExample(
            id=str(r.get("id", line.index)),
            source=self._image(r["source"]),
            instruction=r["instruction"],
            mask=self._mask(r["mask"]) if "mask" in fields else None,
            target=self._image(r["target"]) if "target" in fields else None,
            description=r.get("description") if "description" in fields else None,
            task=r.get("task", "edit"),
        )
