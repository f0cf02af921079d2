"""``editrl score``: score edited images produced elsewhere with a recipe's eval metrics on its held-out split.

Another editor's outputs are laid out as a results folder: the edit of example ``e`` at
``OUTPUTS_DIR/<dataset.output_name(e)>`` (``<task>/<id>.png`` by default; CompBench's ``<task>/<image_path>``), so
that any editor is compared with the same code as editrl's own evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.eval import write_results
from editrl.cli.output import user_errors, warn
from editrl.cli.run import OverridesArg, PluginOpt
from editrl.errors import EditrlError

#: How many missing outputs a message lists.
SHOWN_MISSING = 5


class Chosen(Sequence):
    """The examples of a split at ``indices``, loaded on access (a benchmark's split is not read into memory)."""

    def __init__(self, split: Sequence, indices: Sequence[int]) -> None:
        self.split, self.indices = split, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.split[j] for j in self.indices[i]]
        return self.split[self.indices[i]]


class OutputImages(Sequence):
    """The edits of a results folder, read lazily (one file per item) as ``[3, H, W]`` in [0, 1]."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        from editrl.cli.edit import read_image

        return read_image(self.paths[i])  # [3, H, W]


def find_outputs(outputs_dir: Path, dataset, examples: Sequence, allow_missing: bool) -> tuple[list[int], list[Path]]:
    """``(indices, paths)`` of the examples whose output exists in ``outputs_dir``. Missing outputs are refused
    (how many, the first few paths) unless ``allow_missing``, which warns and keeps the rest."""
    found, paths, missing = [], [], []
    for i, example in enumerate(examples):
        path = outputs_dir / dataset.output_name(example)
        if path.is_file():
            found.append(i)
            paths.append(path)
        else:
            missing.append(path)
    if missing:
        shown = ", ".join(str(p) for p in missing[:SHOWN_MISSING]) + (", ..." if len(missing) > SHOWN_MISSING else "")
        what = f"{len(missing)} of {len(examples)} outputs are missing from {outputs_dir} (expected {shown})"
        if not allow_missing or not found:
            hint = "; --allow-missing scores those that exist" if found else ""
            raise EditrlError(f"OUTPUTS_DIR: {what}{hint}")
        warn(f"{what}; scoring the {len(found)} that exist (--allow-missing)")
    return found, paths


def score(
    outputs_dir: Annotated[Path, typer.Argument(
        help="Folder of edited images: the edit of each held-out example at <dataset.output_name(example)> "
             "(<task>/<id>.png by default).", show_default=False)],
    recipe: Annotated[Path, typer.Argument(help="Recipe file: its dataset's held-out split and its eval metrics.",
                                           show_default=False)],
    overrides: OverridesArg = None,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="Score the outputs that exist instead of refusing when some are missing.")] = False,
    label: Annotated[str | None, typer.Option(help="Name of the scored editor in eval.json [default: the folder's "
                                                   "name].", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where eval.json and the sample sheet go [default: OUTPUTS_DIR].",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    plugin: PluginOpt = None,
) -> None:
    """Score edits produced elsewhere with the recipe's eval metrics on its held-out split (per task type and
    overall); writes eval.json and the sample sheet samples.png (source | edit | target). Outputs of another size
    than their source are resized to it (bicubic).

    Example:

      editrl score results/my_editor recipes/toy/rc_grpo.yaml eval.max_examples=32
    """
    import torch

    from editrl.engine.build import build_components, load_recipe
    from editrl.engine.evaluation import check_scorable, fit_to, recipe_device, save_edit_samples, score_edits

    with user_errors():
        if not outputs_dir.is_dir():
            raise EditrlError(f"OUTPUTS_DIR: {outputs_dir} is not a folder (expected a results folder of edits)")
        cfg, registry = load_recipe(recipe, overrides or [], extra_plugins=plugin or [])
        c = build_components(cfg, registry)
        check_scorable(c.eval_metrics)
        split = c.dataset.split("eval")
        examples = Chosen(split, range(min(len(split), cfg.eval.max_examples or len(split))))
        if not examples:
            raise EditrlError("dataset: the held-out (eval) split is empty; there is nothing to score")
        found, paths = find_outputs(outputs_dir, c.dataset, examples, allow_missing)
        examples = Chosen(split, [examples.indices[i] for i in found])
        device = recipe_device(cfg)
        for metric in c.eval_metrics:
            metric.load(device)
        images, resized = OutputImages(paths), []
        name = label or outputs_dir.resolve().name
        result = score_edits(name, c.eval_metrics, examples, images, batch_size=cfg.eval.batch_size, device=device,
                             resized=resized)
        out_dir = output or outputs_dir
        keep = min(cfg.eval.samples, len(examples))
        if keep:
            edits = [fit_to(images[i], tuple(e.source.shape[-2:])) for i, e in enumerate(examples[:keep])]
            save_edit_samples(out_dir, examples[:keep], {name: torch.stack(edits)})  # [S, 3, H, W]
    if resized:
        warn(f"{len(resized)} of {len(examples)} outputs differ in size from their source and were resized to it "
             f"(bicubic), e.g. {paths[resized[0]]}")
    write_results(out_dir, [result], as_json, f"scores of {outputs_dir} on {recipe}'s held-out split")
