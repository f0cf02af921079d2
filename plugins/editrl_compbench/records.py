"""CompBench's two on-disk forms, read into one list of records whose images open lazily.

- The **folder layout** of CompBench's ``eval_all.py`` (written by its ``download_from_hf.py``; notes/eval_metrics.md
  §1.3): ``<root>/<task>/{input_image,edited_image,mask}/<image_path>`` and ``<root>/<task>/metadata.json``, a JSON
  array of ``{"image_path", "instruction", "caption"}``.
- The **Hugging Face parquet export** (``BohanJia/CompBench``, §1.2): ``<root>`` is a ``.parquet`` file or a folder
  searched recursively for them, with the columns ``task``, ``image_path``, ``instruction``, ``caption`` and the
  image columns ``input_image``, ``edited_image``, ``mask`` (the ``datasets`` Image feature: a struct of ``bytes`` and
  ``path``). Rows of other tasks (and the ``multi_turn`` split's files) are skipped by task. Images are read a row
  group at a time, the last row group kept, so a sequential pass reads each row group once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from editrl.errors import ResourceError

#: The image kinds of an example, named as CompBench's folders and parquet columns.
IMAGE_KINDS = ("input_image", "edited_image", "mask")
TEXT_COLUMNS = ("task", "image_path", "instruction", "caption")


@dataclass(frozen=True)
class Record:
    """One CompBench example before decoding: its texts, and how to open each of its images."""

    task: str
    image_path: str  # the example's id, e.g. "001ca3cb/0/00003.png"
    instruction: str
    caption: str  # the local description of the edited object (LC-T's text)
    opener: Callable[[str], Image.Image]  # kind in IMAGE_KINDS → the decoded image (not yet converted or resized)
    where: str  # for messages: "<root>/add/metadata.json entry 3" or "<file>.parquet row group 0, row 5"
    files: dict[str, Path] | None = None  # kind → image file (folder layout); None for parquet rows


def has_parquet(root: Path) -> bool:
    """True when ``root`` is a parquet file or a folder holding some (the parquet export)."""
    return root.suffix == ".parquet" if root.is_file() else any(root.rglob("*.parquet"))


def folder_records(root: Path, tasks: list[str]) -> list[Record]:
    """Records of ``tasks`` from the folder layout, in ``tasks`` order and each task's ``metadata.json`` order.

    Raises:
        ResourceError: a task's ``metadata.json`` is missing, not a JSON array, or an entry lacks a key.
    """
    records: list[Record] = []
    for task in tasks:
        meta = root / task / "metadata.json"
        if not meta.is_file():
            found = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
            raise ResourceError(
                f"dataset.root: {meta} not found (expected CompBench's layout <root>/<task>/metadata.json with "
                f"<task>/input_image, edited_image and mask beside it; folders found: {found or 'none'})"
            )
        try:
            entries = json.loads(meta.read_text())
        except json.JSONDecodeError as exc:
            raise ResourceError(f"{meta}:{exc.lineno}: not JSON ({exc.msg})") from None
        if not isinstance(entries, list):
            raise ResourceError(f"{meta}: expected a JSON array of {{image_path, instruction, caption}} objects")
        for n, entry in enumerate(entries):
            keys = ("image_path", "instruction", "caption")
            missing = [k for k in keys if not isinstance(entry, dict) or k not in entry]
            if missing:
                raise ResourceError(f"{meta}: entry {n} lacks {', '.join(missing)}")
            image_path = str(entry["image_path"])
            files = {kind: root / task / kind / image_path for kind in IMAGE_KINDS}
            opener = lambda kind, files=files: _open_file(files[kind])  # noqa: E731
            records.append(Record(
                task, image_path, str(entry["instruction"]), str(entry["caption"] or ""), opener, f"{meta} entry {n}",
                files,
            ))
    return records


def _open_file(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (FileNotFoundError, OSError) as exc:
        raise ResourceError(f"dataset: cannot read image {path}: {exc}") from None
    return image


def parquet_records(root: Path, tasks: list[str]) -> list[Record]:
    """Records of ``tasks`` from the parquet export, in ``tasks`` order, then file and row order.

    Raises:
        ResourceError: pyarrow is missing, a file is not parquet, or it lacks a CompBench column.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ResourceError(
            "dataset.root: reading CompBench's parquet export needs pyarrow (pip install 'editrl[compbench]'), or "
            "point dataset.root at the folder layout written by CompBench's download_from_hf.py"
        ) from None
    files = [root] if root.is_file() else sorted(root.rglob("*.parquet"))
    by_task: dict[str, list[Record]] = {t: [] for t in tasks}
    for path in files:
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a damaged file
            raise ResourceError(f"dataset: cannot read parquet file {path}: {exc}") from None
        missing = [c for c in (*TEXT_COLUMNS, *IMAGE_KINDS) if c not in parquet.schema_arrow.names]
        if missing:
            raise ResourceError(f"{path}: lacks the CompBench column(s) {', '.join(missing)}")
        reader = _RowGroupReader(path, parquet)
        for group in range(parquet.num_row_groups):
            rows = parquet.read_row_group(group, columns=list(TEXT_COLUMNS)).to_pylist()
            for row_in_group, row in enumerate(rows):
                if row["task"] not in by_task:
                    continue
                opener = lambda kind, g=group, r=row_in_group: reader.open(g, r, kind)  # noqa: E731
                by_task[row["task"]].append(Record(
                    row["task"], str(row["image_path"]), str(row["instruction"]), str(row["caption"] or ""), opener,
                    f"{path} row group {group}, row {row_in_group}",
                ))
    return [r for t in tasks for r in by_task[t]]


class _RowGroupReader:
    """Decodes the images of one parquet file's rows, keeping the image columns of the last row group read."""

    def __init__(self, path: Path, parquet) -> None:
        self.path, self.parquet = path, parquet
        self._group: int | None = None
        self._columns: dict[str, list] = {}

    def open(self, group: int, row: int, kind: str) -> Image.Image:
        if group != self._group:
            table = self.parquet.read_row_group(group, columns=list(IMAGE_KINDS))
            self._columns = {k: table.column(k).to_pylist() for k in IMAGE_KINDS}
            self._group = group
        cell = self._columns[kind][row]
        data = cell.get("bytes") if isinstance(cell, dict) else cell  # datasets' Image struct, or raw bytes
        if not data:
            raise ResourceError(f"{self.path}: row group {group}, row {row}: column {kind} holds no image bytes")
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except OSError as exc:
            raise ResourceError(f"{self.path}: row group {group}, row {row}: cannot decode {kind}: {exc}") from None
        return image
