"""What the user sees while a bench runs: a rich view of the grid on a terminal, plain lines otherwise.

The terminal view has one bar for the whole grid (training steps of every pending run; runs done / running /
waiting; elapsed and ETA) and one bar per running run. The ETA is rich's, from the recent rate of training steps.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from editrl.bench.plan import PlannedRun, State


class GridView:
    """Receives ``started`` / ``advanced`` / ``finished`` from the runner; use as a context manager."""

    def __init__(self, runs: list[PlannedRun], console: Console) -> None:
        self.console = console
        self.pending = [r for r in runs if r.state is not State.DONE]
        self.counts = {"done": len(runs) - len(self.pending), "running": 0, "waiting": len(self.pending)}
        self.total = len(runs)
        self.steps = {r.key: r.done_steps for r in self.pending}
        self.live = console.is_terminal
        self.t0 = time.monotonic()
        if self.live:
            self.bar = Progress(
                TextColumn("{task.fields[name]:<28}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                TimeElapsedColumn(), TimeRemainingColumn(), console=console,
            )
            self.grid = self.bar.add_task(
                self._summary(), name="[bold]grid (steps)", total=sum(r.steps for r in self.pending),
                completed=sum(self.steps.values()),
            )
            self.tasks: dict[str, int] = {}

    def _summary(self) -> str:
        c = self.counts
        return f"runs: {c['done']}/{self.total} done · {c['running']} running · {c['waiting']} waiting"

    def __enter__(self) -> GridView:
        if self.live:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.bar.__exit__(*exc)

    def started(self, run: PlannedRun) -> None:
        self.counts["waiting"] -= 1
        self.counts["running"] += 1
        how = f"resumed at step {run.done_steps}" if run.state is State.RESUME else "started"
        if self.live:
            self.tasks[run.key] = self.bar.add_task("", name=run.key, total=run.steps, completed=run.done_steps)
            self.bar.update(self.grid, description=self._summary())
        else:
            self.console.print(f"{run.key}: {how} ({self._summary()})", highlight=False)

    def advanced(self, run: PlannedRun, step: int) -> None:
        self.steps[run.key] = max(self.steps[run.key], step)
        if self.live:
            self.bar.update(self.tasks[run.key], completed=step)
            self.bar.update(self.grid, completed=sum(self.steps.values()))

    def finished(self, run: PlannedRun, ok: bool, seconds: float) -> None:
        self.counts["running"] -= 1
        self.counts["done"] += ok
        self.steps[run.key] = run.steps
        verdict = "done" if ok else "[red]FAILED[/]"
        if self.live:
            self.bar.remove_task(self.tasks.pop(run.key))
            self.bar.update(self.grid, completed=sum(self.steps.values()), description=self._summary())
            self.console.print(f"{run.key}: {verdict} in {seconds:.0f} s")
        else:
            left = sum(r.steps for r in self.pending) - sum(self.steps.values())
            done = sum(self.steps.values()) - sum(r.done_steps for r in self.pending)
            rate = done / max(time.monotonic() - self.t0, 1e-9)
            eta = f", ETA {left / rate:.0f} s" if rate > 0 and left > 0 else ""
            self.console.print(f"{run.key}: {verdict} in {seconds:.0f} s ({self._summary()}{eta})")
