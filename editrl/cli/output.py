"""Console output shared by the commands: error bullets, tables, evaluation tables, the progress display."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.table import Table

from editrl.errors import EditrlError, RecipeError

# Messages are never wrapped: a log file or a pipe gets each message on one line, whatever the terminal's width.
console = Console(soft_wrap=True)
console_err = Console(stderr=True, soft_wrap=True)

#: Exit code for bad input (recipes, overrides, missing files or weights).
BAD_INPUT = 2
#: Exit code of a run that skipped more than half of its steps (non-finite rewards, losses or gradients).
MOSTLY_SKIPPED = 3
#: Widest a table is printed when the output is not a terminal (a log file has no width; 80 columns truncates).
LOG_TABLE_WIDTH = 240


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn editrl's errors into a message and exit code 2, never a traceback."""
    try:
        yield
    except RecipeError as exc:
        from editrl.config.loading import OverrideError  # here, not at import: the config package imports torch

        heading = "invalid override:" if isinstance(exc, OverrideError) else f"{exc.source} is not a valid recipe:"
        console_err.print(f"[bold red]error:[/] {heading}")
        for problem in exc.problems:
            console_err.print(f"  • {problem}", markup=False, highlight=False)
        raise typer.Exit(BAD_INPUT) from None
    except EditrlError as exc:
        console_err.print("[bold red]error:[/] ", end="")
        console_err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(BAD_INPUT) from None


def warn(message: str) -> None:
    """One ``warning:`` line on stderr (above the progress bar when one is shown)."""
    console_err.print("[yellow]warning:[/] ", end="")
    console_err.print(message, markup=False, highlight=False)


def print_table(table: Table) -> None:
    """Print a table whole: on a terminal at its width, elsewhere as wide as the table needs (up to a limit)."""
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(LOG_TABLE_WIDTH)).maximum
    Console(soft_wrap=True, width=max(console.width, min(natural, LOG_TABLE_WIDTH))).print(table)


def name_column(table: Table, header: str) -> None:
    """A column of names (components, fields, plugins, metrics): never wrapped or cut."""
    table.add_column(header, no_wrap=True, overflow="fold")


def fmt(value: float | None) -> str:
    """A diagnostic in 3 significant digits (``-1.23e-05``, ``0.512``, ``nan``), never ``-0.0000``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.3g}"


def eval_table(results, title: str = "held-out evaluation") -> Table:
    """Rows: metric × task type; columns: which direction is better, each evaluated model (base first), and Δ of the
    last over the first (green where it moved the better way, red where the worse, on a terminal)."""
    table = Table(title=title)
    name_column(table, "task")
    name_column(table, "metric")
    better = results[0].better  # metric → "higher" / "lower"
    if better:
        table.add_column("better", no_wrap=True)
    for r in results:
        table.add_column(r.label, justify="right", no_wrap=True)
    if len(results) > 1:
        table.add_column("Δ", justify="right", no_wrap=True)
    # "all" pools every row; "mean_of_tasks" (evaluation.TASK_MEAN) is the unweighted mean of the task types' means
    tasks = sorted(results[0].means, key=lambda t: (t != "all", t != "mean_of_tasks", t))
    for task in tasks:
        for metric in results[0].means[task]:
            values = [r.means[task][metric] for r in results]
            count = results[0].counts[task]
            where = f"mean of {count} tasks" if task == "mean_of_tasks" else f"{task} ({count})"
            direction = better.get(metric, "higher")
            row = [where, metric, *([direction] if better else []), *(f"{v:.3f}" for v in values)]
            if len(values) > 1:
                delta = values[-1] - values[0]
                gain = delta if direction == "higher" else -delta
                style = "green" if gain > 0 else "red" if gain < 0 else ""
                row.append(f"[{style}]{delta:+.3f}[/]" if style else f"{delta:+.3f}")
            table.add_row(*row)
        table.add_section()
    return table


class StepProgress:
    """Training progress: a rich bar on a terminal; otherwise one plain line per logged step, so a log file shows
    the run as it goes. Either way, every skipped step (non-finite reward, loss or gradient) is a warning."""

    def __init__(self, total: int, done: int = 0, log_every: int = 1, skipped: int = 0) -> None:
        self.log_every = log_every
        self.skipped = skipped
        self.bar = None
        if console.is_terminal:
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=console,
            )
            self.task = self.bar.add_task("", total=total, completed=done)

    def __enter__(self) -> StepProgress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, step: int, total: int, metrics: dict) -> None:
        skipped = int(metrics["skipped_steps"])
        if skipped > self.skipped:
            means = [v for k, v in metrics.items() if k.startswith("reward/") and k.endswith("/mean")]
            cause = "the loss or a gradient" if all(v is not None and math.isfinite(v) for v in means) else "a reward"
            warn(
                f"step {step} skipped: {cause} was not finite, the weights were not updated "
                f"({skipped} of {step} steps skipped so far)"
            )
        self.skipped = skipped
        text = (
            f"reward {fmt(metrics.get('reward/weighted_mean'))} · loss {fmt(metrics.get('loss'))} · "
            f"skipped {skipped} · {metrics['time/step_s']:.2f}s/step"
        )
        if self.bar is not None:
            self.bar.update(self.task, completed=step, description=text)
        elif step % self.log_every == 0 or step == total:
            console.print(f"step {step}/{total} · {text}", markup=False, highlight=False)
