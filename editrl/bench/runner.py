"""Running a bench's pending runs, several at a time, each `python -m editrl run ...` in its own process.

The cores are split between the workers: each process gets ``cores // workers`` torch/OpenMP threads (through
``OMP_NUM_THREADS`` and friends, which torch reads at start-up), so two runs on two cores do not fight over them.
A run's output goes to ``bench.log`` in its run directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from editrl.bench.plan import PlannedRun, State, prepare

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
LOG = "bench.log"


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def split_cores(pending: int, workers: int | None, cores: int) -> tuple[int, int]:
    """``(workers, threads per run)``: at most one worker per pending run; by default one per core."""
    workers = max(1, min(workers or cores, max(pending, 1)))
    return workers, max(1, cores // workers)


@dataclass
class Failure:
    run: PlannedRun
    returncode: int
    log_tail: str


def steps_done(run_dir: Path) -> int:
    """The last logged step of a run (0 before its first metrics line)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return 0
    lines = path.read_bytes().splitlines()
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError):  # a line being written
            continue
    return 0


def run_pending(runs: list[PlannedRun], workers: int, threads: int, view, poll_s: float = 0.5) -> list[Failure]:
    """Run every run that is not done, ``workers`` at a time; returns the failed ones.

    1. start runs while fewer than ``workers`` are running;
    2. poll: report each running run's step to the view, collect the finished ones;
    3. on an interrupt (Ctrl-C), stop the children and re-raise: their checkpoints let the next bench resume.
    """
    waiting = [r for r in runs if r.state is not State.DONE]
    running: dict[str, tuple[PlannedRun, subprocess.Popen, float]] = {}
    failures: list[Failure] = []
    env = {**os.environ, **{v: str(threads) for v in THREAD_VARS}, "OMP_WAIT_POLICY": "PASSIVE"}
    try:
        while waiting or running:
            while waiting and len(running) < workers:  # step 1
                run = waiting.pop(0)
                args = prepare(run)
                with open(run.run_dir / LOG, "w") as log:
                    proc = subprocess.Popen([sys.executable, "-m", "editrl", *args], stdout=log,
                                            stderr=subprocess.STDOUT, env=env)
                running[run.key] = (run, proc, time.monotonic())
                view.started(run)
            time.sleep(poll_s)  # step 2
            for key, (run, proc, start) in list(running.items()):
                view.advanced(run, steps_done(run.run_dir))
                code = proc.poll()
                if code is None:
                    continue
                del running[key]
                ok = code == 0 and (run.run_dir / "eval.json").is_file()
                if ok:
                    run.state, run.done_steps = State.DONE, run.steps
                else:
                    tail = (run.run_dir / LOG).read_text(errors="replace")[-3000:]
                    failures.append(Failure(run, code, tail))
                view.finished(run, ok, time.monotonic() - start)
    except BaseException:  # step 3
        for _, proc, _ in running.values():
            proc.terminate()
        for _, proc, _ in running.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise
    return failures
