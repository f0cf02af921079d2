"""``toy_judge``: a ground-truth judge standing in for EditScore on the toy world."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from editrl.interfaces import RewardConfig, RewardInputs, RewardOutput
from editrl.interfaces.reward import Reward
from editrl.metrics import masked_mse, masked_psnr


class ToyJudgeConfig(RewardConfig):
    psnr_scale: float = Field(40.0, gt=0.0, le=100.0)
    """Background PSNR (dB) that earns full consistency: ``consistency = 10·clamp(PSNR_bg / psnr_scale, 0, 1)``
    (40 dB is CoCoEdit's ``psnr_norm`` scale)."""
    min_change: float = Field(1e-4, gt=0.0, le=1.0)
    """Floor of the reference error ``mse_in(source, target)``; rows below it (an empty mask, or a target equal to
    the source inside it) are counted as ``degenerate``."""


class ToyJudge(Reward):
    """EditScore-like 0–10 judge that compares with the ground truth: only valid on data with targets (toy_shapes).

    For an edited image x, its source s, target t and mask m (1 = edit), per row:

    - ``semantic = 10·clamp(1 − rmse_in(x, t) / rmse_in(s, t), 0, 1)`` with ``rmse_in = sqrt(mse_in)`` and
      ``mse_in(s, t)`` floored at ``min_change``: how far x got from the source towards the target inside the mask,
      linearly in distance (an image half-way between source and target scores 5; the target scores 10 and an
      unedited image 0 by construction). The ratio of root errors rather than of squared errors keeps the score
      sensitive to the faint leftovers (ghosts, blurred edges) a good but imperfect editor leaves.
    - ``consistency = 10·clamp(PSNR_out(x, s) / psnr_scale, 0, 1)`` with the true masked PSNR of the non-edit region
      against the source (docs/method.md §6, 100 dB when identical): how well everything else was left alone.
    - ``overall = sqrt(semantic·consistency)``, the geometric mean, like EditScore's overall. This is the reward.

    The counters ``semantic_floor`` and ``consistency_cap`` count the rows whose score a clamp holds (x farther from
    the target than the source; background PSNR above ``psnr_scale``): where they are many, the judge cannot tell
    those rows apart. ``mse_in`` is the masked MSE over mask pixels and channels. The judge needs the ground-truth
    ``target``, so the engine refuses it for datasets without targets (``requires``).
    """

    name = "toy_judge"
    Config: ClassVar[type[ToyJudgeConfig]] = ToyJudgeConfig
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "mask", "target"})
    config: ToyJudgeConfig

    @torch.no_grad()
    def rows(self, inputs: RewardInputs) -> dict[str, torch.Tensor]:
        """Per-row parts of the score, each ``[M]``: ``semantic``, ``consistency``, ``overall``, the background
        ``psnr`` (dB) and the booleans ``degenerate``, ``empty_keep``, ``semantic_floor`` and ``consistency_cap``.

        1. the edit-region errors of x and of the source against the target;
        2. semantic progress and background PSNR, clamped into scores;
        3. which rows a floor or a clamp holds.
        """
        missing = [f for f in ("images", "source", "mask", "target") if getattr(inputs, f) is None]
        if missing:
            raise ValueError(f"toy_judge needs {', '.join(missing)} in its inputs (it compares with ground truth)")
        # step 1
        x, src, tgt = inputs.images.float(), inputs.source.float(), inputs.target.float()
        edit = (inputs.mask.float() > 0.5).float()  # [M, 1, H, W]
        keep = 1.0 - edit
        err_x, _ = masked_mse(x, tgt, keep)  # [M] over the edit region (masked_mse excludes its mask argument)
        err_src, _ = masked_mse(src, tgt, keep)  # [M]
        # step 2
        progress = 1 - (err_x / err_src.clamp_min(self.config.min_change)).sqrt()  # [M], at most 1
        semantic = 10 * progress.clamp(0, 1)
        psnr = masked_psnr(x, src, edit)  # [M] over the non-edit region
        consistency = 10 * (psnr / self.config.psnr_scale).clamp(0, 1)
        # step 3
        return {
            "semantic": semantic.float(),
            "consistency": consistency.float(),
            "overall": torch.sqrt(semantic * consistency).float(),
            "psnr": psnr.float(),
            "degenerate": err_src < self.config.min_change,
            "empty_keep": keep.sum(dim=(1, 2, 3)) == 0,
            "semantic_floor": progress < 0,
            "consistency_cap": psnr > self.config.psnr_scale,
        }

    @torch.no_grad()
    def score(self, inputs: RewardInputs) -> RewardOutput:
        """Score ``images [M, 3, H, W]`` against ``target``/``source`` with ``mask [M, 1, H, W]``."""
        r = self.rows(inputs)
        return RewardOutput(
            values=r["overall"],
            details={"semantic": r["semantic"], "consistency": r["consistency"]},
            counters={k: float(r[k].sum()) for k in ("degenerate", "empty_keep", "semantic_floor", "consistency_cap")},
        )
