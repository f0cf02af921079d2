"""Console output shared by the commands: error bullets, evaluation tables, the progress display."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from editrl.errors import EditrlError, RecipeError

# Messages are never wrapped: a log file or a pipe gets each message on one line, whatever the terminal's width.
console = Console(soft_wrap=True)
console_err = Console(stderr=True, soft_wrap=True)

#: Exit code for bad input (recipes, overrides, missing files or weights).
BAD_INPUT = 2


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn editrl's errors into a message and exit code 2, never a traceback."""
    try:
        yield
    except RecipeError as exc:
        console_err.print(f"[bold red]error:[/] {exc.source} is not a valid recipe:")
        for problem in exc.problems:
            console_err.print(f"  • {problem}", markup=False, highlight=False)
        raise typer.Exit(BAD_INPUT) from None
    except EditrlError as exc:
        console_err.print("[bold red]error:[/] ", end="")
        console_err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(BAD_INPUT) from None


def eval_table(results, title: str = "held-out evaluation") -> Table:
    """Rows: metric × task type; columns: each evaluated model (base first), and Δ of the last over the first."""
    table = Table(title=title)
    table.add_column("task")
    table.add_column("metric")
    for r in results:
        table.add_column(r.label, justify="right")
    if len(results) > 1:
        table.add_column("Δ", justify="right")
    tasks = ["all", *sorted(t for t in results[0].means if t != "all")]
    for task in tasks:
        for metric in results[0].means[task]:
            values = [r.means[task][metric] for r in results]
            row = [f"{task} ({results[0].counts[task]})", metric, *(f"{v:.3f}" for v in values)]
            if len(values) > 1:
                row.append(f"{values[-1] - values[0]:+.3f}")
            table.add_row(*row)
        table.add_section()
    return table


class StepProgress:
    """A rich progress bar whose description shows the latest reward and loss."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.bar = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
        )
        self.task = self.bar.add_task("", total=total, completed=done)

    def __enter__(self) -> StepProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, step: int, total: int, metrics: dict) -> None:
        reward = next((v for k, v in metrics.items() if k.startswith("reward/") and k.endswith("/mean")), float("nan"))
        loss = metrics.get("loss", float("nan"))
        self.bar.update(
            self.task, completed=step,
            description=f"reward {reward:.3f} · loss {loss:+.4f} · {metrics['time/step_s']:.2f}s/step",
        )
