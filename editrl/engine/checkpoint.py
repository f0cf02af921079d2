"""Atomic checkpoints: a checkpoint directory appears complete or not at all, and ``latest`` moves last."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

LORA_FILE = "lora.safetensors"
STATE_FILE = "trainer_state.pt"
LATEST = "latest"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(
    root: Path,
    step: int,
    lora_state: dict[str, torch.Tensor],
    trainer_state: dict[str, Any],
    extra_writer=None,
    keep: int = 2,
) -> Path:
    """Write ``root/step_{step:06d}`` through a temporary directory, then point ``root/latest`` at it.

    Args:
        extra_writer: ``fn(directory) -> list[Path]`` writing more files into the checkpoint (format exports).
        keep: how many of the newest checkpoints to keep.
    """
    root.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:06d}"
    final = root / name
    tmp = root / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file({k: v.contiguous().cpu() for k, v in lora_state.items()}, str(tmp / LORA_FILE))
    torch.save(trainer_state, tmp / STATE_FILE)
    if extra_writer is not None:
        extra_writer(tmp)
    for f in tmp.iterdir():
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    write_text_atomic(root / LATEST, name)
    _prune(root, keep)
    return final


def _prune(root: Path, keep: int) -> None:
    steps = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in steps[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(root: Path) -> Path | None:
    """The directory ``latest`` names, or None when there is no complete checkpoint."""
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    path = root / pointer.read_text().strip()
    return path if (path / STATE_FILE).is_file() and (path / LORA_FILE).is_file() else None


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(lora_state, trainer_state)`` of a checkpoint directory."""
    return load_file(str(path / LORA_FILE)), torch.load(path / STATE_FILE, weights_only=False)
