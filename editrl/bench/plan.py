"""The grid of a bench: one validated run per (variant, seed), its fingerprint, and what is left to do for it.

A run lives in ``DIR/runs/<variant>/seed_<s>/``. Before it starts the bench writes ``bench_run.json`` there with the
fingerprint of the run's resolved recipe (the validated recipe's ``model_dump``, without ``output_dir`` and
``resume``). A run counts as done when that fingerprint matches and ``eval.json`` exists; a matching run with a
checkpoint but no ``eval.json`` was interrupted and resumes; anything else in the directory is stale and is
replaced.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from editrl.bench.spec import BenchSpec
from editrl.config import apply_overrides, load_recipe_dict, validate_recipe
from editrl.config.schema import RecipeBase
from editrl.engine.checkpoint import latest_checkpoint
from editrl.errors import EditrlError, RecipeError

MARKER = "bench_run.json"


class State(str, Enum):
    DONE = "done"
    RESUME = "resume"  # interrupted after a checkpoint: continues from it
    NEW = "new"  # nothing there yet, or an interrupted start without a checkpoint
    STALE = "changed"  # the directory holds a run of another recipe: replaced


@dataclass
class PlannedRun:
    variant: str
    seed: int
    recipe: Path
    overrides: list[str]  # everything after the recipe on `editrl run`, seed and output_dir included
    run_dir: Path
    fingerprint: str
    steps: int  # train.steps of the resolved recipe
    state: State = State.NEW
    done_steps: int = 0  # of a resumable run: its checkpoint's step
    plugins: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.variant}/seed_{self.seed}"


def fingerprint(recipe: RecipeBase) -> str:
    """SHA-256 (16 hex digits) of the resolved recipe without where it runs (output_dir) and how (resume)."""
    resolved = recipe.model_dump(mode="json")
    for key in ("output_dir", "resume"):
        resolved.pop(key, None)
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:16]


def plan_runs(spec: BenchSpec, source: Path, out_dir: Path, cli_overrides: list[str], plugins: list[str]) -> list[PlannedRun]:
    """Validate every (variant, seed) recipe and return the runs, each with its state on disk.

    1. per variant: load the recipe with all overrides (bench, variant, command line, seed, output_dir);
    2. per seed: validate against the variant's registry, fingerprint the resolved recipe;
    3. read each run directory's state.

    Raises:
        RecipeError: source = the bench file; every variant's problems, each bullet naming the variant.
    """
    from editrl.engine.build import load_recipe

    runs, problems = [], []
    for name, variant in spec.variants.items():
        overrides = [*spec.overrides, *variant.overrides, *cli_overrides]
        where = f"variants.{name} ({variant.recipe})"
        try:
            # step 1
            first_dir = out_dir / "runs" / name / f"seed_{spec.seeds[0]}"
            _, registry = load_recipe(variant.recipe, [*overrides, f"seed={spec.seeds[0]}", f"output_dir={first_dir}"],
                                      extra_plugins=plugins)
            # step 2
            for seed in spec.seeds:
                run_dir = out_dir / "runs" / name / f"seed_{seed}"
                full = [*overrides, f"seed={seed}", f"output_dir={run_dir}"]
                recipe = validate_recipe(apply_overrides(load_recipe_dict(variant.recipe), list(full)), registry,
                                         source=str(variant.recipe))
                if not recipe.eval.at_end:
                    raise RecipeError(str(variant.recipe), ["eval.at_end: must be true in a bench (the report reads eval.json)"])
                runs.append(PlannedRun(name, seed, variant.recipe, full, run_dir, fingerprint(recipe),
                                       recipe.train.steps, plugins=list(plugins)))
        except RecipeError as exc:
            problems += [f"{where}: {p}" if exc.source == str(variant.recipe) else f"{where}: {exc.source}: {p}"
                         for p in exc.problems]
        except EditrlError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise RecipeError(str(source), problems)
    for run in runs:  # step 3
        run.state, run.done_steps = run_state(run)
    return runs


def run_state(run: PlannedRun) -> tuple[State, int]:
    """What the directory holds for this run: done, resumable (and from which step), nothing, or another run."""
    marker = run.run_dir / MARKER
    if not run.run_dir.exists():
        return State.NEW, 0
    try:
        recorded = json.loads(marker.read_text()).get("fingerprint") if marker.is_file() else None
    except (ValueError, AttributeError):  # a marker cut short or edited by hand
        recorded = None
    if recorded != run.fingerprint:
        return State.STALE, 0
    if (run.run_dir / "eval.json").is_file():
        return State.DONE, run.steps
    latest = latest_checkpoint(run.run_dir / "checkpoints")
    if latest is not None:
        return State.RESUME, int(latest.name.removeprefix("step_"))
    return State.NEW, 0


def prepare(run: PlannedRun) -> list[str]:
    """Make the run directory ready to start or resume and return the `editrl run` arguments.

    A stale or checkpoint-less directory is emptied first (it lies inside the bench's own output directory).
    """
    if run.state is not State.RESUME and run.run_dir.exists():
        shutil.rmtree(run.run_dir)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    marker = {"fingerprint": run.fingerprint, "variant": run.variant, "seed": run.seed, "recipe": str(run.recipe),
              "overrides": run.overrides}
    (run.run_dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    args = ["run", str(run.recipe), *run.overrides, *(f"--plugin={p}" for p in run.plugins)]
    return [*args, "resume=true"] if run.state is State.RESUME else args
