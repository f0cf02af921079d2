"""``metrics.jsonl``: one JSON object per logged step; truncated back to the checkpoint on resume."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from editrl.engine.checkpoint import write_text_atomic


class MetricsLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def truncate_after(self, step: int) -> None:
        """Drop lines of steps after ``step`` (they belong to the part of a killed run that is redone)."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        write_text_atomic(self.path, "".join(f"{line}\n" for line in kept))

    def write(self, metrics: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps(clean) + "\n")


class ChunkStats:
    """Averages chunk diagnostics by share; ``*_min`` / ``*_max`` keys reduce by min / max."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.weights: dict[str, float] = defaultdict(float)
        self.extremes: dict[str, float] = {}

    def add(self, stats: dict[str, float], share: float) -> None:
        for key, value in stats.items():
            if key.endswith("_min"):
                self.extremes[key] = min(value, self.extremes.get(key, math.inf))
            elif key.endswith("_max"):
                self.extremes[key] = max(value, self.extremes.get(key, -math.inf))
            else:
                self.sums[key] += share * value
                self.weights[key] += share

    def result(self) -> dict[str, float]:
        out = {k: self.sums[k] / self.weights[k] for k in self.sums if self.weights[k] > 0}
        out.update(self.extremes)
        return out
