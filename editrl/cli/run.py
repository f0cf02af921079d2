"""``editrl run``: train from a recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import MOSTLY_SKIPPED, StepProgress, console, console_err, eval_table, print_table, user_errors

OverridesArg = Annotated[
    list[str] | None,
    typer.Argument(help="key=value overrides, e.g. train.steps=10 exploration.sigma=0.5; ~key deletes", show_default=False),
]
PluginOpt = Annotated[
    list[str] | None, typer.Option("--plugin", "-p", help="Extra local plugin module to register (repeatable).")
]


def run(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    overrides: OverridesArg = None,
    plugin: PluginOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in output_dir (same as resume=true).")] = False,
) -> None:
    """Train an editor as a recipe says. Exit code 2: bad input; 3: more than half of the steps were skipped.

    Examples:

      editrl run recipes/toy/neighbor_grpo.yaml

      editrl run recipes/toy/neighbor_grpo.yaml train.steps=5 exploration.sigma=0.5 output_dir=runs/try

      editrl run recipes/toy/neighbor_grpo.yaml output_dir=runs/try resume=true
    """
    from editrl.cli.data import check_recipe_data
    from editrl.engine.build import build_components, load_recipe
    from editrl.engine.trainer import Trainer
    from editrl.plugin_manager import get_plugin_manager

    with user_errors():
        extra = [*(overrides or []), *(["resume=true"] if resume else [])]
        cfg, registry = load_recipe(recipe, extra, extra_plugins=plugin or [])
        # the run's recipe.yaml records every local plugin module, so `editrl eval RUN_DIR` loads them again
        cfg = cfg.model_copy(update={"plugins": list(dict.fromkeys([*cfg.plugins, *(plugin or [])]))})
        pm = get_plugin_manager(extra_modules=cfg.plugins)
        components = build_components(cfg, registry)
        check_recipe_data(cfg, components.dataset, components.backbone)  # before any weight loads or file is written
        trainer = Trainer(cfg, components, pm)
        trainer.setup()
        console.print(f"run directory: [bold]{trainer.run_dir}[/]" + (f" (resumed at step {trainer.step})" if trainer.step else ""))
        if trainer.cache_report:
            console.print(trainer.cache_report, highlight=False)
        with StepProgress(cfg.train.steps, trainer.step, cfg.train.log_every, trainer.skipped_steps) as progress:
            trainer.train(progress)
        if cfg.eval.at_end:
            results = trainer.evaluate()
            print_table(eval_table(results))
            console.print(f"saved {trainer.run_dir / 'eval.json'}")
    skipped, steps = trainer.skipped_steps, trainer.step
    why = " (non-finite reward, loss or gradient: the weights were not updated)" if skipped else ""
    console.print(f"{steps} steps, {skipped} skipped{why}", highlight=False)
    if 2 * skipped > steps:
        console_err.print(
            f"[bold red]error:[/] {skipped} of {steps} steps were skipped (the weights were updated on "
            f"{steps - skipped}); lower train.lr or lora.alpha, or check the rewards in "
            f"{trainer.run_dir / 'metrics.jsonl'} (exit code {MOSTLY_SKIPPED})"
        )
        raise typer.Exit(MOSTLY_SKIPPED)
