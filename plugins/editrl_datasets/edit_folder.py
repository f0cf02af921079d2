"""``edit_folder``: edit examples from a folder of images and a JSON-lines manifest per split."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import Field

from editrl.component import ComponentConfig
from editrl.errors import ResourceError
from editrl.interfaces import EditDataset, EditExample

OPTIONAL = ("mask", "target", "description")


class EditFolderConfig(ComponentConfig):
    root: str
    """Folder holding ``train.jsonl`` and ``eval.jsonl``; image paths in them are relative to it."""
    resolution: int = Field(512, ge=16, le=4096)
    """Images are resized (bilinear; masks nearest) to resolution × resolution."""
    fields: list[Literal["mask", "target", "description"]] = ["mask"]
    """Which optional fields every record carries (checked on load); rewards and schemes may require them."""
    mask_convention: Literal["white_is_edit", "white_is_keep"] = "white_is_edit"
    """How mask images are drawn. editrl uses 1 = edit; CoCoEdit's released masks are white_is_keep."""


class EditFolder(EditDataset):
    """Edit examples listed one per line in ``<root>/<split>.jsonl``.

    Each line: ``{"id": ..., "source": "img/0.png", "instruction": "...", "mask": "mask/0.png",
    "target": "img/0_edited.png", "description": "a red hat", "task": "replace"}`` — ``mask``, ``target`` and
    ``description`` as declared in ``fields``; ``id`` and ``task`` optional. Images load lazily.
    """

    name = "edit_folder"
    Config = EditFolderConfig

    @classmethod
    def provided(cls, config) -> frozenset[str]:
        return frozenset(config.fields)

    def split(self, name: Literal["train", "eval"]) -> Sequence[EditExample]:
        root = Path(self.config.root)
        manifest = root / f"{name}.jsonl"
        if not manifest.is_file():
            raise ResourceError(f"dataset.root: {manifest} not found (expected one JSON object per line)")
        records = []
        for number, line in enumerate(manifest.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ResourceError(f"{manifest}:{number}: not JSON ({exc.msg})") from None
            missing = [k for k in ("source", "instruction", *self.config.fields) if k not in record]
            if missing:
                raise ResourceError(f"{manifest}:{number}: missing {', '.join(missing)} (dataset.fields asks for them)")
            records.append(record)
        return _FolderSplit(root, records, self.config)


class _FolderSplit(Sequence[EditExample]):
    def __init__(self, root: Path, records: list[dict], config: EditFolderConfig) -> None:
        self.root, self.records, self.config = root, records, config

    def __len__(self) -> int:
        return len(self.records)

    def _image(self, rel: str, mode: str) -> torch.Tensor:
        path = self.root / rel
        try:
            img = Image.open(path).convert(mode)
        except (FileNotFoundError, OSError) as exc:
            raise ResourceError(f"dataset: cannot read image {path}: {exc}") from None
        t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
        t = t.view(img.height, img.width, -1).permute(2, 0, 1).float() / 255  # [C, H, W]
        size = (self.config.resolution, self.config.resolution)
        interp = "nearest" if mode == "L" else "bilinear"
        kwargs = {} if interp == "nearest" else {"align_corners": False, "antialias": True}
        return F.interpolate(t[None], size=size, mode=interp, **kwargs)[0].clamp(0, 1)

    def __getitem__(self, index: int) -> EditExample:
        r = self.records[index]
        fields = self.config.fields
        mask = None
        if "mask" in fields:
            mask = (self._image(r["mask"], "L") > 0.5).float()  # [1, H, W]
            if self.config.mask_convention == "white_is_keep":
                mask = 1 - mask
        return EditExample(
            id=str(r.get("id", index)),
            source=self._image(r["source"], "RGB"),
            instruction=r["instruction"],
            mask=mask,
            target=self._image(r["target"], "RGB") if "target" in fields else None,
            description=r.get("description") if "description" in fields else None,
            task=r.get("task", "edit"),
        )
