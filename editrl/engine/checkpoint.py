"""Atomic checkpoints: a checkpoint directory appears complete or not at all, and ``latest`` moves last; and which
checkpoint of a run directory a run continues from."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from editrl.errors import EditrlError

LORA_FILE = "lora.safetensors"
STATE_FILE = "trainer_state.pt"
LATEST = "latest"
#: What may change when a run is resumed (plugins: a hook-only plugin may come or go; components are validated).
RESUMABLE_KEYS = {"resume", "train.steps", "train.log_with", "eval", "plugins"}


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


def checkpoint_name(step: int) -> str:
    """The directory name of the checkpoint after ``step`` steps: ``step_000060``."""
    return f"step_{step:06d}"


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint directory was written after, read from its name (``step_000060`` → 60)."""
    return int(path.name.removeprefix("step_"))


def step_label(step: int) -> str:
    """How tables and ``eval.json`` name the editor trained for ``step`` steps (one label for run and eval)."""
    return f"step {step}"


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
    name = checkpoint_name(step)
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


def resume_point(recipe) -> Path | None:
    """The checkpoint of ``recipe.output_dir`` to continue from (None: a new run), or an error, before anything is
    loaded or written.

    1. a run directory holding a checkpoint is continued only with ``resume=true``;
    2. ``resume=true`` needs a checkpoint there (a mistyped ``output_dir`` must not start a fresh run);
    3. resuming keeps the recipe except :data:`RESUMABLE_KEYS`, and never lowers ``train.steps`` below the step
       already reached.
    """
    run_dir = Path(recipe.output_dir)
    latest = latest_checkpoint(run_dir / "checkpoints")
    if latest is not None and not recipe.resume:  # step 1
        raise EditrlError(
            f"output_dir: {run_dir} already holds a run (checkpoint {latest.name}); "
            "continue it with resume=true or choose another output_dir=..."
        )
    if latest is None:
        if recipe.resume:  # step 2
            what = "does not exist" if not run_dir.exists() else "holds no checkpoint (checkpoints/latest)"
            raise EditrlError(
                f"output_dir: resume=true, but {run_dir} {what}; check output_dir, "
                "or drop resume=true to start a new run"
            )
        return None
    saved = yaml.safe_load((run_dir / "recipe.yaml").read_text())  # step 3
    changed = [k for k in _flat_diff(saved, recipe.model_dump(mode="json")) if not k.startswith(tuple(RESUMABLE_KEYS))]
    if changed:
        raise EditrlError(
            f"resume: the recipe differs from the run's recipe.yaml at {', '.join(changed)}; "
            "only train.steps, train.log_with, plugins and eval settings may change when resuming"
        )
    reached = checkpoint_step(latest)
    if recipe.train.steps < reached:
        raise EditrlError(
            f"train.steps: {recipe.train.steps} is below step {reached}, which the run in {run_dir} already reached; "
            f"resume with train.steps={reached} or more"
        )
    return latest


def _flat_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two nested structures differ, sorted."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [d for k in sorted(keys) for d in _flat_diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]
