"""Where cached rows live: :class:`MemoryStore` (this process, RAM) or :class:`DiskStore` (a folder of shards that
every run, process and `editrl data encode` share). Both map an example key to one row of a condition."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from editrl.cache.shards import CorruptShard, read_shard, write_shard
from editrl.errors import ResourceError
from editrl.interfaces import Condition

log = logging.getLogger("editrl.cache")


def default_cache_dir() -> Path:
    """$EDITRL_CACHE_DIR, else $XDG_CACHE_HOME/editrl/conditions, else ~/.cache/editrl/conditions."""
    if os.environ.get("EDITRL_CACHE_DIR"):
        return Path(os.environ["EDITRL_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "editrl" / "conditions"


class MemoryStore:
    """Rows kept on the CPU for the life of the process (``condition_cache: memory``)."""

    def __init__(self) -> None:
        self.rows: dict[str, Condition] = {}
        self.corrupt = 0

    def get(self, key: str, cls: type[Condition] | None = None) -> Condition | None:
        return self.rows.get(key)

    def put(self, key: str, row: Condition) -> None:
        self.rows[key] = row

    def __len__(self) -> int:
        return len(self.rows)


def unwritable(folder: Path, exc: OSError) -> ResourceError:
    """The error for a cache folder that cannot be written (a file in the way, no permission, a full disk)."""
    return ResourceError(
        f"backbone.condition_cache_dir: cannot write the condition cache in {folder} ({exc.strerror or exc}); "
        "point condition_cache_dir (or $EDITRL_CACHE_DIR) at a writable folder"
    )


class DiskStore:
    """Shards ``<root>/<backbone key[:24]>/<key[:2]>/<key>.safetensors``; ``backbone.json`` in the backbone's folder
    records its :meth:`~editrl.interfaces.Backbone.condition_key` for people. A corrupt shard is logged, counted and
    reported as missing, so the caller re-encodes and overwrites it."""

    def __init__(self, root: Path, bkey: str, cls: type[Condition], description: dict | None = None) -> None:
        self.folder = Path(root) / bkey[:24]
        self.cls = cls
        self.corrupt = 0
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            info = self.folder / "backbone.json"
            if description is not None and not info.exists():
                tmp = info.with_name(f".backbone.json.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(description, indent=2, sort_keys=True, default=str))
                os.replace(tmp, info)
        except OSError as exc:
            raise unwritable(self.folder, exc) from None

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.safetensors"

    def get(self, key: str, cls: type[Condition] | None = None) -> Condition | None:
        """The row of ``key`` (a ``cls``, default the backbone's condition class), None when absent or corrupt."""
        try:
            return read_shard(self.path(key), cls or self.cls, key)
        except CorruptShard as exc:
            self.corrupt += 1
            log.warning("condition cache: %s; re-encoding it", exc)
            return None

    def put(self, key: str, row: Condition) -> None:
        try:
            write_shard(self.path(key), row, key)
        except OSError as exc:
            raise unwritable(self.folder, exc) from None

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*/*.safetensors"))
