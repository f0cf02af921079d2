"""Experiment trackers (TensorBoard, wandb) through accelerate: the metrics of ``metrics.jsonl``, rank 0 only.

``train.log_with: [tensorboard]`` writes event files under ``RUN_DIR/trackers/editrl/``; the resolved recipe is the
run's config (TensorBoard's hparams, wandb's config), flattened to dotted keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from accelerate.tracking import get_available_trackers
from accelerate.utils import ProjectConfiguration

from editrl.errors import EditrlError

#: Folder of the run directory that trackers write to.
TRACKER_DIR = "trackers"
#: Project name the trackers file the run under (TensorBoard: a sub-folder of ``trackers/``; wandb: the project).
PROJECT = "editrl"
#: How to get each tracker's package.
INSTALL = {"tensorboard": "pip install tensorboard", "wandb": "pip install 'editrl[wandb]'"}


def accelerator_kwargs(log_with: list[str], run_dir: Path) -> dict[str, Any]:
    """``Accelerator(**...)`` arguments for the recipe's trackers; refuses one whose package is not installed."""
    if not log_with:
        return {}
    available = {str(t) for t in get_available_trackers()}
    for name in log_with:
        if name not in available:
            raise EditrlError(f"train.log_with: {name} is not installed; {INSTALL[name]}, or drop it from the list")
    config = ProjectConfiguration(project_dir=str(run_dir), logging_dir=str(run_dir / TRACKER_DIR))
    return {"log_with": list(log_with), "project_config": config}


def flat_config(resolved: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """The resolved recipe as ``{"train.steps": 60, "rewards": "[...]"}``: scalars kept, lists and null as JSON text
    (TensorBoard's hparams take only scalars and strings)."""
    out: dict[str, bool | int | float | str] = {}
    for key, value in resolved.items():
        if isinstance(value, dict):
            out.update(flat_config(value, f"{prefix}{key}."))
        elif isinstance(value, (bool, int, float, str)):
            out[f"{prefix}{key}"] = value
        else:
            out[f"{prefix}{key}"] = json.dumps(value)
    return out


def start(accelerator: Accelerator, resolved: dict[str, Any], run_dir: Path) -> None:
    """Open the trackers (no-op without ``log_with``), with the resolved recipe as the run's config."""
    if accelerator.log_with:
        (run_dir / TRACKER_DIR).mkdir(parents=True, exist_ok=True)
        accelerator.init_trackers(
            PROJECT, config=flat_config(resolved),
            init_kwargs={"wandb": {"name": run_dir.name, "dir": str(run_dir / TRACKER_DIR)}},
        )


def log(accelerator: Accelerator, metrics: dict[str, Any], step: int) -> None:
    """Send a step's numeric metrics (those written to ``metrics.jsonl``) to every tracker; accelerate logs on rank 0
    only."""
    if accelerator.trackers:
        values = {k: v for k, v in metrics.items() if k != "step" and isinstance(v, (int, float))}
        accelerator.log(values, step=step)


def finish(accelerator: Accelerator) -> None:
    """Flush and close the trackers."""
    if accelerator.trackers:
        accelerator.end_training()
