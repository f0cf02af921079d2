"""Helpers shared by tests: the toy recipe and its shrinking overrides, run-directory readers, a third-party
plugin's source. (Imported by name; ``conftest`` modules are not importable reliably across test folders.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
TOY_RECIPE = REPO / "recipes" / "toy" / "neighbor_grpo.yaml"

#: Overrides that shrink the toy recipe to seconds: 2 groups of 4 candidates, 4 solver steps, 2 anchors.
TINY = [
    "train.batch_size=2", "exploration.group_size=4", "solver.steps=4", "optimizer.anchors=2",
    "eval.max_examples=6", "train.save_every=0",
]


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def latest_lora(run_dir: Path) -> dict[str, torch.Tensor]:
    name = (run_dir / "checkpoints" / "latest").read_text().strip()
    return load_file(str(run_dir / "checkpoints" / name / "lora.safetensors"))


FAKE_PLUGIN = '''
import torch
from pydantic import Field
from editrl import hookimpl
from editrl.interfaces import Reward, RewardConfig, RewardOutput


class BrightnessConfig(RewardConfig):
    target: float = Field(0.5, ge=0, le=1)
    """Preferred mean brightness."""


class Brightness(Reward):
    """Negative distance of the mean brightness to a target (a third-party test reward)."""

    name = "brightness"
    Config = BrightnessConfig

    def score(self, inputs):
        return RewardOutput(values=-(inputs.images.mean(dim=(1, 2, 3)) - self.config.target).abs())


@hookimpl
def editrl_register_components(registry):
    registry.add(Brightness)
'''


def fake_plugin_module():
    """:data:`FAKE_PLUGIN` imported in-process as the module ``tests_fake_plugin`` (its ``Brightness`` reward for tests
    that need the class itself rather than an installed plugin); one module however often it is asked for."""
    import linecache
    import sys
    import types

    module = sys.modules.get("tests_fake_plugin")
    if module is None:
        filename = "<tests_support.FAKE_PLUGIN>"
        # in linecache, so that inspect finds the source (the contract checks read the attribute docstrings)
        linecache.cache[filename] = (len(FAKE_PLUGIN), None, FAKE_PLUGIN.splitlines(keepends=True), filename)
        module = types.ModuleType("tests_fake_plugin")
        module.__file__ = filename
        sys.modules["tests_fake_plugin"] = module
        exec(compile(FAKE_PLUGIN, filename, "exec"), module.__dict__)
    return module


KILLER = '''
import os
from editrl import hookimpl


@hookimpl
def editrl_on_step_end(step, metrics, run_dir):
    if step == int(os.environ["EDITRL_TEST_KILL_AT"]):
        os._exit(137)  # like SIGKILL: no cleanup, no checkpoint
'''


def run_killed_at(step: int, recipe: Path, overrides: list[str], out: Path, workdir: Path) -> None:
    """``editrl run`` in a subprocess that dies like ``kill -9`` right after ``step`` (a local plugin module calls
    ``os._exit`` from ``editrl_on_step_end``); asserts that it did."""
    (workdir / "killer.py").write_text(KILLER)
    env = {**os.environ, "EDITRL_TEST_KILL_AT": str(step), "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "editrl", "run", str(recipe), *overrides, f"output_dir={out}", "-p", "killer"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 137, proc.stdout + proc.stderr


def write_distribution(folder: Path, module: str, source: str, distribution: str, entry_point: str) -> None:
    """Make ``folder`` (put on ``sys.path`` by the caller) hold module ``module`` and an installed distribution
    ``distribution 0.1`` whose ``[editrl]`` entry point ``entry_point`` names it, as pip would leave them."""
    (folder / f"{module}.py").write_text(source)
    info = folder / f"{distribution.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[editrl]\n{entry_point} = {module}\n")
