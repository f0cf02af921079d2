"""Running many toy recipes and tabulating their held-out evaluations (shared by toy_ablation.py and toy_sweep.py).

A run is ``editrl run RECIPE OVERRIDES seed=S output_dir=DIR`` in a subprocess with one thread, so that two runs share
2 cores. DIR is named by a fingerprint of the recipe file's text and the overrides, so a run whose ``eval.json``
exists is reused only while neither changed (by any script using the same root), and a killed one resumes from its
checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Table columns: (heading, metric key in eval.json's "all" row).
COLUMNS = [
    ("judge overall", "toy_judge"),
    ("foreground (semantic)", "toy_judge/semantic"),
    ("background (consistency)", "toy_judge/consistency"),
    ("bg PSNR dB", "masked_psnr/psnr_db"),
    ("bg SSIM", "masked_ssim"),
]


def run_dir(root: Path, recipe: Path, overrides: list[str], seed: int) -> Path:
    """``root/RECIPE-FINGERPRINT/seedS``: the fingerprint changes with the recipe's text or the overrides, and the
    same run asked for by two scripts sharing ``root`` is made once."""
    text = recipe.read_text() + "\0" + "\0".join(overrides)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:8]
    return root / f"{recipe.stem}-{fingerprint}" / f"seed{seed}"


def run_one(recipe: Path, overrides: list[str], root: Path, seed: int) -> Path:
    """Run (or reuse, or resume) one recipe; its run directory. SystemExit with the run's output if it fails."""
    out = run_dir(root, recipe, overrides, seed)
    if (out / "eval.json").is_file():
        return out
    cmd = [sys.executable, "-m", "editrl", "run", str(recipe), *overrides, f"seed={seed}", f"output_dir={out}"]
    if (out / "checkpoints" / "latest").is_file():
        cmd.append("resume=true")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return out


def run_all(jobs: list[tuple[Path, list[str], Path, int]], parallel: int) -> list[tuple[Path, list[dict]]]:
    """Run ``(recipe, overrides, root, seed)`` jobs ``parallel`` at a time; (run dir, eval.json), in order."""
    with ThreadPoolExecutor(parallel) as pool:
        dirs = list(pool.map(lambda job: run_one(*job), jobs))
    return [(d, json.loads((d / "eval.json").read_text())) for d in dirs]


def trained(evaluation: list[dict], task: str = "all") -> dict[str, float]:
    """The trained editor's metric means in an eval.json (its second entry; the first is the base editor)."""
    return evaluation[1]["means"][task]


def base(evaluation: list[dict], task: str = "all") -> dict[str, float]:
    return evaluation[0]["means"][task]


def mean_std(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


def table(rows: list[tuple[str, list[dict[str, float]]]], columns=COLUMNS) -> list[str]:
    """Markdown lines: one row per (name, metric dicts over seeds), mean ± std of each column."""
    lines = ["| variant | " + " | ".join(h for h, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, runs in rows:
        cells = [mean_std([r[k] for r in runs]) if all(k in r for r in runs) else "–" for _, k in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def keep_discussion(path: Path, marker: str = "## What this says") -> str:
    """The hand-written discussion at the end of an earlier report (from ``marker`` on), so regenerating the
    numbers does not erase it; empty when there is none."""
    if not path.is_file():
        return ""
    text = path.read_text()
    at = text.find(marker)
    return "" if at < 0 else text[at:]
