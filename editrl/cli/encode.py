"""``editrl data encode RECIPE``: every example's condition computed once, into the disk condition cache, so that
``editrl run`` with ``backbone.condition_cache: disk`` loads no text/VL encoder and no VAE encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import console, user_errors, warn
from editrl.cli.run import OverridesArg, PluginOpt


def encode(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    overrides: OverridesArg = None,
    plugin: PluginOpt = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1024, help="Examples per encoder call.")] = 8,
) -> None:
    """Encode the condition of every train example and of the evaluated held-out examples into the disk cache
    (``backbone.condition_cache_dir``, default $EDITRL_CACHE_DIR or ~/.cache/editrl/conditions). Resumable: killed
    and run again, it encodes only what is missing, with the same result as an uninterrupted run.

    Example:

      editrl data encode recipes/rc_grpo.yaml dataset.root=/data/edits backbone.condition_cache=disk
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from editrl.cache.fill import fill, remove_stale_temporaries
    from editrl.cache.install import open_store
    from editrl.engine.build import build_components, load_recipe
    from editrl.engine.evaluation import recipe_device
    from editrl.engine.scoring import needed_inputs

    with user_errors():
        # the recipe's dataset and backbone (no weights load until an example is missing)
        cfg, registry = load_recipe(recipe, overrides or [], extra_plugins=plugin or [])
        c = build_components(cfg, registry)
        dataset, backbone = c.dataset, c.backbone
        # the source latents too when a component needs them (as the trainer computes its needs)
        needs = needed_inputs(c.training_consumers())
        device = recipe_device(cfg)
        bkey, store = open_store(backbone, "disk")
        if getattr(cfg.backbone, "condition_cache", "off") != "disk":
            warn(f"backbone.condition_cache is {cfg.backbone.condition_cache!r}: runs read this cache only with "
                 "backbone.condition_cache=disk")
        stale = remove_stale_temporaries(store.folder)
        # the splits a run reads
        splits = {"train": dataset.split("train"), "eval": list(dataset.split("eval"))[: cfg.eval.max_examples]}
        total = sum(len(s) for s in splits.values())
        # fill, with a progress bar over the examples
        bar = Progress(
            TextColumn("[bold]encode"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, disable=not console.is_terminal,
        )
        task = bar.add_task("", total=total)
        results = {}
        with bar:
            for name, examples in splits.items():
                results[name] = fill(
                    backbone, lambda: backbone.load(device), store, bkey, examples, batch_size,
                    lambda n: bar.advance(task, n), source_latents="source_latents" in needs,
                )
    # one line per split
    for name, r in results.items():
        fixed = f", {r.corrupt} corrupt re-encoded" if r.corrupt else ""
        console.print(f"{name}: {r.encoded} encoded, {r.present} already cached{fixed}", highlight=False)
    console.print(f"condition cache: {store.folder}" + (f" ({stale} stale temporary files removed)" if stale else ""),
                  highlight=False)
