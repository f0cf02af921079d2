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
        with open(self.path, "a") as f:
            f.write(dumps_json(metrics) + "\n")


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float inside it (dicts, lists) replaced by None, so JSON gets ``null``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def dumps_json(value: Any, indent: int | None = None) -> str:
    """Strict JSON (never the bare ``NaN``/``Infinity`` tokens): non-finite numbers are written as ``null``."""
    return json.dumps(finite_or_none(value), indent=indent, allow_nan=False)


def weighted_reward(names: list[str], weights: list[float], metrics: dict[str, Any]) -> float:
    """Σ_i w_i · mean_i over the reward terms: the raw (unstandardised) total reward of a step, for display."""
    return sum(w * metrics.get(f"reward/{n}/mean", math.nan) for n, w in zip(names, weights))


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
