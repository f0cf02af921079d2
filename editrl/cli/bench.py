"""``editrl bench``: run a grid of recipe variants × seeds and write a report comparing them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import BAD_INPUT, console, console_err, user_errors
from editrl.cli.run import OverridesArg, PluginOpt


def _fail_bench_file(exc) -> None:
    """A bench file's problems as bullets under its name; exit 2."""
    console_err.print(f"[bold red]error:[/] {exc.source} is not a valid bench file:")
    for problem in exc.problems:
        console_err.print(f"  • {problem}", markup=False, highlight=False)
    raise typer.Exit(BAD_INPUT)


def _dry_run_lines(runs) -> list[str]:
    """One line per run: variant/seed, its state, its directory (plain lines: long paths are never folded)."""
    from editrl.bench.plan import State

    lines = []
    for run in runs:
        state = f"resume from step {run.done_steps}" if run.state is State.RESUME else run.state.value
        lines.append(f"{run.key:<32} {state:<22} {run.run_dir}")
    return lines


def bench(
    bench_file: Annotated[Path, typer.Argument(help="Bench YAML file (variants × seeds; see `editrl schema --bench`).")],
    overrides: OverridesArg = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Bench directory (default: runs/bench/<name>).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the runs and which are done; run nothing.")] = False,
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1, help="Runs at a time (default: the file's).")] = None,
    rerun: Annotated[bool, typer.Option("--rerun", help="Re-run finished runs too (after code or weight changes).")] = False,
    plugin: PluginOpt = None,
) -> None:
    """Train every variant of a bench file once per seed (several at a time, finished runs reused) and write
    report.md, report.json and PNG plots comparing them.

    Examples:

      editrl bench benchmarks/toy_ablation.yaml

      editrl bench benchmarks/toy_ablation.yaml --dry-run

      editrl bench benchmarks/toy_ablation.yaml -o runs/quick train.steps=10
    """
    from editrl.bench import plots
    from editrl.bench.plan import State, plan_runs
    from editrl.bench.report import build_report, write_report
    from editrl.bench.runner import available_cores, run_pending, split_cores
    from editrl.bench.spec import check_overrides, load_bench
    from editrl.bench.view import GridView
    from editrl.errors import RecipeError

    t0 = time.monotonic()
    cli_overrides = list(overrides or [])
    # 1. the bench file and every run's recipe, validated before anything runs
    with user_errors():
        try:
            try:
                check_overrides(cli_overrides)
            except ValueError as exc:
                raise RecipeError(str(bench_file), [f"command-line overrides: {exc}"]) from None
            spec = load_bench(bench_file)
            out_dir = output or Path(spec.output_dir or f"runs/bench/{spec.name}")
            runs = plan_runs(spec, bench_file, out_dir, cli_overrides, plugin or [])
        except RecipeError as exc:
            if exc.source != str(bench_file):
                raise
            _fail_bench_file(exc)
    if rerun:
        for run in runs:
            run.state, run.done_steps = State.STALE, 0
    # 2. the dry run lists the grid
    if dry_run:
        console.print("\n".join(_dry_run_lines(runs)), markup=False, highlight=False)
        pending = sum(r.state is not State.DONE for r in runs)
        console.print(f"{len(runs) - pending} of {len(runs)} runs done; {pending} to run; bench directory {out_dir}")
        return
    # 3. the pending runs, several at a time
    pending = [r for r in runs if r.state is not State.DONE]
    n_workers, threads = split_cores(len(pending), workers or spec.workers, available_cores())
    if pending:
        console.print(f"{len(pending)} of {len(runs)} runs to do, {n_workers} at a time, {threads} thread(s) each")
        try:
            with GridView(runs, console) as view:
                failures = run_pending(runs, n_workers, threads, view)
        except KeyboardInterrupt:
            console_err.print("interrupted: run the same command again to continue where the bench stopped")
            raise typer.Exit(130) from None
        if failures:
            for f in failures:
                console_err.print(f"[bold red]run failed:[/] {f.run.key} (exit {f.returncode}); "
                                  f"log {f.run.run_dir / 'bench.log'}; its end:", highlight=False)
                console_err.print(f.log_tail, markup=False, highlight=False)
            raise typer.Exit(1)
    # 4. the report and the plots, from the finished runs alone
    labels = {name: v.label or name for name, v in spec.variants.items()}
    report = build_report(spec, bench_file, runs, cli_overrides)
    for metric in report["missing"]:
        console_err.print(f"[yellow]warning:[/] metrics: {metric!r} is in no run's eval.json; it has: "
                          f"{', '.join(report['available'])}", highlight=False)
    made = plots.all_plots(out_dir, runs, report, labels, spec.samples)
    md, js = write_report(report, out_dir, made)
    console.print(md.read_text(), markup=False, highlight=False)
    console.print(f"wrote {md}, {js} and {len(made)} plots in {time.monotonic() - t0:.1f} s")
