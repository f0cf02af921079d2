"""θ_old, DiffusionNFT's rollout policy: a second, non-trained LoRA adapter soft-updated towards θ (docs/method.md §7)."""

from __future__ import annotations

from typing import Literal

#: The adapter name of θ_old (the trained adapter is peft's ``default``).
OLD_ADAPTER = "old"

OldDecay = Literal["linear", "delayed", "on_policy"]


def old_decay(step: int, schedule: OldDecay) -> float:
    """η of ``θ_old ← η·θ_old + (1 − η)·θ`` after optimisation step ``step`` (1-based), DiffusionNFT's schedules:

    - ``linear`` (the paper's default, ``decay_type 1``): ``η = min(0.001·step, 0.5)``;
    - ``delayed`` (``decay_type 2``, its OCR runs): ``η = 0`` before step 75, then ``min(0.0075·(step − 75), 0.999)``;
    - ``on_policy`` (``decay_type 0``): ``η = 0``, θ_old is θ after every step.
    """
    if schedule == "linear":
        return min(0.001 * step, 0.5)
    if schedule == "delayed":
        return 0.0 if step < 75 else min(0.0075 * (step - 75), 0.999)
    if schedule == "on_policy":
        return 0.0
    raise ValueError(f"old_decay: unknown schedule {schedule!r}; expected linear, delayed or on_policy")
