"""Two processes under ``accelerate launch`` on CPU (gloo): the run completes, and rank 0 alone writes metrics,
checkpoints and the evaluation.
About 20 s (two interpreter start-ups)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests_support import TINY, TOY_RECIPE, read_metrics

def test_two_cpu_processes(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "editrl", "run", str(TOY_RECIPE), *TINY, "train.steps=3", f"output_dir={out}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [m["step"] for m in read_metrics(out)] == [1, 2, 3]  # rank 0 only: no duplicated lines
    assert proc.stdout.count("held-out evaluation") == 1
    evaluation = json.loads((out / "eval.json").read_text())
    assert [r["label"] for r in evaluation] == ["base", "step 3"]
