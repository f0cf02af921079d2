"""``editrl eval``: held-out metrics of a trained run (and of its base editor), or of a recipe's base editor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import console, eval_table, print_table, user_errors
from editrl.cli.run import OverridesArg, PluginOpt

#: The evaluation file every evaluating command writes.
EVAL_FILE = "eval.json"


def write_results(out_dir: Path, results, as_json: bool, title: str) -> None:
    """Write ``out_dir/eval.json`` (one entry per editor, as ``editrl run`` writes it) and print the results: JSON
    on stdout with ``as_json``, else the table and where the files went."""
    from editrl.engine.checkpoint import write_text_atomic
    from editrl.engine.evaluation import SHEET_FILE
    from editrl.engine.metrics import dumps_json

    text = dumps_json([vars(r) for r in results], indent=2)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / EVAL_FILE, text)
    if as_json:
        typer.echo(text)
        return
    print_table(eval_table(results, title=title))
    sheet = f" and {out_dir / SHEET_FILE}" if (out_dir / SHEET_FILE).is_file() else ""
    console.print(f"saved {out_dir / EVAL_FILE}{sheet}", highlight=False)


def eval_run(
    target: Annotated[Path, typer.Argument(
        help="A run directory written by `editrl run` (its latest checkpoint and its base editor), or a recipe file "
             "(.yaml: the recipe's base editor, no run needed).", show_default=False)],
    overrides: OverridesArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    max_examples: Annotated[int | None, typer.Option(help="Evaluate only the first N held-out examples.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where eval.json and the sample sheet go [default: RUN_DIR/eval/<checkpoint> for a "
                               "run, <output_dir>/eval/base for a recipe].", show_default=False)] = None,
    plugin: PluginOpt = None,
) -> None:
    """Evaluate on the held-out split with fixed noise: a run's base editor and its latest checkpoint, or a recipe's
    base editor. Writes eval.json and the sample sheet samples.png (source | edits | target).

    Examples:

      editrl eval runs/toy_neighbor_grpo --json

      editrl eval recipes/toy/rc_grpo.yaml eval.max_examples=16 -o runs/base_eval
    """
    from editrl.engine.evaluation import evaluate_base, evaluate_base_and_trained, load_editor

    with user_errors():
        extra = [*(overrides or []), *([f"eval.max_examples={max_examples}"] if max_examples else [])]
        editor = load_editor(target, extra, plugin or [], held_out=True)
        c = editor.components
        for metric in c.eval_metrics:
            metric.load(editor.device)
        if editor.run_dir is not None:
            out_dir = output or editor.run_dir / "eval" / editor.checkpoint.name
            results = evaluate_base_and_trained(editor.recipe, c, editor.lora, editor.device, editor.label, out_dir)
        else:
            out_dir = output or Path(editor.recipe.output_dir) / "eval" / "base"
            results = [evaluate_base(editor.recipe, c, editor.device, out_dir)]
    write_results(out_dir, results, as_json, f"held-out evaluation of {target}")
