"""``editrl toy``: pretrain the base toy editor, print its baseline table and its calibration."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from editrl_toy.backbone import ToyEditorConfig
from editrl_toy.evaluate import EVAL_SEED
from editrl_toy.imperfect import ImperfectionConfig
from editrl_toy.pretrain import PretrainConfig

_P = {name: f.default for name, f in PretrainConfig.model_fields.items()}
_I = {name: f.default for name, f in ImperfectionConfig.model_fields.items()}
_A = {name: f.default for name, f in ToyEditorConfig.model_fields.items()}

toy_app = typer.Typer(
    name="toy",
    help="The embedded toy testbed: pretrain the base toy editor, print its per-task baseline and calibration.",
    no_args_is_help=True,
    add_completion=False,
)


def _command_line() -> str:
    """The command as the user typed it (``editrl toy ...`` or ``python -m editrl_toy.commands ...``)."""
    prog = Path(sys.argv[0]).name
    head = ["python", "-m", "editrl_toy.commands"] if prog.endswith(".py") else [prog]
    return shlex.join([*head, *sys.argv[1:]])


@toy_app.command()
def pretrain(
    out: Path = typer.Option(Path("toy_editor_weights"), help="Directory for toy_editor.safetensors and .json."),
    seed: int = typer.Option(_P["seed"], min=0, help="Seed of the initialisation, batch order, σ and noise."),
    steps: int = typer.Option(_P["steps"], min=1, help="Optimiser steps."),
    batch_size: int = typer.Option(_P["batch_size"], min=1, help="Examples per step."),
    lr: float = typer.Option(_P["lr"], min=0.0, help="Peak AdamW learning rate (warm-up, then cosine decay)."),
    edit_weight: float = typer.Option(_P["edit_weight"], min=0.0, help="Extra loss weight inside the edit mask."),
    strength_min: float = typer.Option(_I["strength_min"], help="Targets' edit strength α ~ U(this, 1) in the mask."),
    spill: float = typer.Option(_I["spill"], help="Targets' spill-over amplitude β ~ U(0, this) outside the mask."),
    spill_radius: float = typer.Option(_I["spill_radius"], help="Gaussian σ (px) of the spill-over."),
    drift: float = typer.Option(_I["drift"], help="Targets' colour-drift amplitude γ ~ U(0, this) over the image."),
    drift_radius: float = typer.Option(
        _I["drift_radius"], help="0: drift over the whole image; > 0: over a halo of this Gaussian σ (px) around "
        "the edit."
    ),
    coupling: str = typer.Option(
        _I["coupling"], help="independent: faults drawn per example; noise: read off each example's initial noise."
    ),
    data_seed: int = typer.Option(_P["data_seed"], min=0, help="Seed of the toy_shapes world."),
    dim: int = typer.Option(_A["dim"], help="Token width."),
    depth: int = typer.Option(_A["depth"], help="Transformer blocks."),
    heads: int = typer.Option(_A["heads"], help="Attention heads."),
    mlp_ratio: float = typer.Option(_A["mlp_ratio"], help="MLP width over the token width."),
    threads: int = typer.Option(_P["threads"], min=1, help="torch.set_num_threads."),
    eval_every: int = typer.Option(0, min=0, help="Evaluate every N steps (0: only at the end)."),
) -> None:
    """Train the base toy editor with flow matching on the toy_shapes train split, deterministically from --seed."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from editrl_toy.evaluate import markdown_table
    from editrl_toy.pretrain import pretrain as run_pretrain

    try:
        cfg = PretrainConfig(
            seed=seed, data_seed=data_seed, steps=steps, batch_size=batch_size, lr=lr, edit_weight=edit_weight,
            threads=threads, eval_every=eval_every,
            imperfection=ImperfectionConfig(
                strength_min=strength_min, spill=spill, spill_radius=spill_radius, drift=drift,
                drift_radius=drift_radius, coupling=coupling,
            ),
        )  # fmt: skip
        arch = ToyEditorConfig(weights="random", dim=dim, depth=depth, heads=heads, mlp_ratio=mlp_ratio)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    console = Console(stderr=True)
    columns = [TextColumn("pretrain"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.4f}")]
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("pretrain", total=steps, loss=float("nan"))
        meta = run_pretrain(
            cfg, arch, out, _command_line(), log=progress.console.print,
            on_step=lambda step, loss: progress.update(task, completed=step, loss=loss),
        )  # fmt: skip
    typer.echo(markdown_table(meta["final_metrics"]["eval"]))


@toy_app.command()
def baseline(
    weights: str = typer.Option("builtin", help="'builtin', 'random' or a toy_editor.safetensors path."),
    seed: int = typer.Option(
        EVAL_SEED, min=0, help="Seed of the fixed sampling noise (default: a recipe's eval.seed default, so the base "
        "editor scores as in a run's final table)."
    ),
    steps: int = typer.Option(8, min=1, help="Euler steps K."),
    data_seed: int = typer.Option(0, min=0, help="Seed of the toy_shapes world."),
    eval_size: int = typer.Option(96, min=3, help="Eval-split examples (a multiple of 3)."),
    threads: int = typer.Option(2, min=1, help="torch.set_num_threads."),
) -> None:
    """Per-task table on the eval split: copy the source, ground truth, and the base editor (Euler, fixed noise)."""
    import torch
    from pydantic import ValidationError

    from editrl.errors import EditrlError
    from editrl_toy.backbone import ToyEditor
    from editrl_toy.dataset import ToyShapes
    from editrl_toy.evaluate import baseline as run_baseline
    from editrl_toy.evaluate import markdown_table

    torch.set_num_threads(threads)
    try:
        data = ToyShapes(ToyShapes.Config(seed=data_seed, eval_size=eval_size))
        backbone = ToyEditor(ToyEditor.Config(weights=weights))
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        backbone.load(torch.device("cpu"))
    except EditrlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    table = run_baseline(backbone, list(data.split("eval")), steps=steps, seed=seed)
    typer.echo(f"# toy_editor weights={weights}, Euler K={steps}, noise seed {seed}, eval split of {eval_size}\n")
    typer.echo(markdown_table(table))


@toy_app.command()
def calibrate(
    runs: list[Path] = typer.Argument(None, help="Run directories of `editrl run` on the toy editor (trained rows)."),
    weights: str = typer.Option("builtin", help="The base editor: 'builtin', 'random' or a safetensors path."),
    group: int = typer.Option(4, min=0, help="Further noises per example for the noise spread (0: skip it)."),
    seed: int = typer.Option(EVAL_SEED, min=0, help="Seed of the fixed sampling noise (a recipe's eval.seed default)."),
    steps: int = typer.Option(8, min=1, help="Euler steps K."),
    data_seed: int = typer.Option(0, min=0, help="Seed of the toy_shapes world."),
    eval_size: int = typer.Option(96, min=3, help="Eval-split examples (a multiple of 3)."),
    threads: int = typer.Option(2, min=1, help="torch.set_num_threads."),
    sheet: Path = typer.Option(None, help="Also write a PNG of the first examples: source, each editor, target."),
    sheet_size: int = typer.Option(12, min=1, help="Examples on the sample sheet."),
) -> None:
    """Distributions of the judge's sub-scores per task (quantiles), clamp counts and noise spread on the eval split,
    for the base editor and the trained editor of each RUN."""
    import torch
    from pydantic import ValidationError

    from editrl.cli.output import user_errors
    from editrl_toy.backbone import ToyEditor
    from editrl_toy.calibration import QUANTILES, editor_scores, markdown, sample_sheet, trained_editor
    from editrl_toy.evaluate import sample
    from editrl_toy.dataset import ToyShapes

    torch.set_num_threads(threads)
    with user_errors():
        try:
            data = ToyShapes(ToyShapes.Config(seed=data_seed, eval_size=eval_size))
            base = ToyEditor(ToyEditor.Config(weights=weights))
        except ValidationError as exc:
            raise typer.BadParameter(str(exc)) from None
        base.load(torch.device("cpu"))
        editors = {"base editor": base, **{str(run): trained_editor(run) for run in runs or []}}
        examples = list(data.split("eval"))
        rows = {label: editor_scores(e, examples, steps=steps, seed=seed, group=group) for label, e in editors.items()}
        if sheet is not None:
            shown = examples[:sheet_size]
            images = {label: sample(e, shown, steps=steps, seed=seed) for label, e in editors.items()}
            sample_sheet(sheet, shown, images)
    typer.echo(
        f"# toy_editor weights={weights}, Euler K={steps}, noise seed {seed}, eval split of {eval_size}; quantiles "
        f"{', '.join(str(q) for q in QUANTILES)}; clamp counts are rows; noise std over {group} further noises\n"
    )
    typer.echo(markdown([ex.task for ex in examples], rows))


if __name__ == "__main__":
    toy_app()
