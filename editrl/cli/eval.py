"""``editrl eval``: held-out metrics of a trained run (and of its base editor)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import eval_table, print_table, user_errors
from editrl.cli.run import PluginOpt


def eval_run(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `editrl run`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    max_examples: Annotated[int | None, typer.Option(help="Evaluate only the first N held-out examples.")] = None,
    plugin: PluginOpt = None,
) -> None:
    """Evaluate the base editor and a run's latest checkpoint on the held-out split with fixed noise.

    Example:

      editrl eval runs/toy_neighbor_grpo --json
    """
    from editrl.engine.build import build_components, load_recipe
    from editrl.engine.checkpoint import latest_checkpoint, load_checkpoint, step_label
    from editrl.engine.evaluation import evaluate_base_and_trained
    from editrl.engine.lora import LoraController, lora_config
    from editrl.engine.metrics import dumps_json
    from editrl.errors import EditrlError

    with user_errors():
        recipe_file = run_dir / "recipe.yaml"
        if not recipe_file.is_file():
            raise EditrlError(f"run_dir: {run_dir} has no recipe.yaml; is it a run directory written by `editrl run`?")
        overrides = [f"eval.max_examples={max_examples}"] if max_examples else []
        cfg, registry = load_recipe(recipe_file, overrides, extra_plugins=plugin or [])
        checkpoint = latest_checkpoint(run_dir / "checkpoints")
        if checkpoint is None:
            raise EditrlError(f"run_dir: {run_dir} has no complete checkpoint yet")
        c = build_components(cfg, registry)
        import torch

        device = torch.device("cuda" if cfg.train.device != "cpu" and torch.cuda.is_available() else "cpu")
        c.backbone.load(device)
        for metric in c.eval_metrics:
            metric.load(device)
        lora = LoraController(c.backbone.denoiser, lora_config(cfg.lora, c.backbone))
        lora_state, state = load_checkpoint(checkpoint)
        lora.load_state_dict(lora_state)
        results = evaluate_base_and_trained(cfg, c, lora, device, step_label(int(state["step"])))
    if as_json:
        typer.echo(dumps_json([vars(r) for r in results], indent=2))
    else:
        print_table(eval_table(results, title=f"held-out evaluation of {run_dir}"))
