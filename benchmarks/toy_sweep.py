"""Sweep a toy recipe over named override sets and seeds; print (and optionally save) a held-out table.

Each variant is ``NAME=OVERRIDES`` (space-separated ``key=value`` overrides, empty for the recipe as it is). Runs go
two at a time with one thread each and are reused when their ``eval.json`` exists, so a sweep can be extended
without redoing what is done. The base editor's row comes from the first run (every run evaluates it on the same
held-out split and noise).

    python benchmarks/toy_sweep.py recipes/toy/ablation/grpo_rdp.yaml --seeds 0 \\
        --variant "median per region=" \\
        --variant "fixed, τ_out = τ_in=policy.bandwidth=fixed policy.tau_in=1.4 policy.tau_out=1.4" \\
        --out benchmarks/results/toy_rdp_sweep.md
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from toy_runs import COLUMNS, base, keep_discussion, run_all, table, trained

REPO = Path(__file__).resolve().parents[1]


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, sep, overrides = text.partition("=")
    if not sep or not name.strip():
        raise SystemExit(f"--variant {text!r}: expected NAME=OVERRIDES (overrides may be empty: 'NAME=')")
    return name.strip(), shlex.split(overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", type=Path)
    parser.add_argument("--variant", action="append", required=True, help="NAME=OVERRIDES, repeatable")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "toy")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the table (and the command) to this markdown file")
    parser.add_argument("--columns", nargs="*", default=[], help="extra eval.json metric keys to tabulate (acd)")
    args = parser.parse_args()

    variants = [parse_variant(v) for v in args.variant]
    jobs = [(name, overrides, seed) for name, overrides in variants for seed in args.seeds]
    done = run_all([(args.recipe, ov, args.runs, seed) for _, ov, seed in jobs], args.jobs)
    results = [e for _, e in done]
    columns = COLUMNS + [(key, key) for key in args.columns]
    rows = [("base editor (no post-training)", [base(results[0])])]
    for name, _ in variants:
        rows.append((name, [trained(r) for (n, _, _), r in zip(jobs, results) if n == name]))
    command = " ".join(
        ["python benchmarks/toy_sweep.py", str(args.recipe), "--seeds", *map(str, args.seeds)]
        + [f"--variant {shlex.quote(v)}" for v in args.variant]
        + (["--columns", *args.columns] if args.columns else [])
        + ([f"--out {args.out}"] if args.out else [])
    )
    seeds = ", ".join(map(str, args.seeds))
    lines = [f"Recipe `{args.recipe}`, seeds {seeds}; held-out split of the toy (mean ± std over seeds).", "",
             *table(rows, columns), "", "| variant | overrides |", "|---|---|",
             *[f"| {name} | `{' '.join(ov) or '(the recipe)'}` |" for name, ov in variants], "",
             f"Regenerate: `{command}`"]
    print("\n".join(lines))
    if args.out:
        discussion = keep_discussion(args.out)
        args.out.write_text("\n".join(lines) + "\n" + ("\n" + discussion if discussion else ""))


if __name__ == "__main__":
    main()
