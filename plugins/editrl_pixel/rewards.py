"""Preservation rewards: how well a sample keeps the **source** image outside the edit region (docs/method.md §6).

Every reward here compares the decoded sample (``images``) with the **source** image (``source``), never with a
ground-truth target, over ``keep = 1 − mask`` (mask 1 = edit). Rows whose mask covers the whole image have nothing to
preserve: they score as perfect preservation (see :func:`editrl.metrics.psnr.masked_psnr`) and are counted in the
``empty_keep`` counter.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from editrl.interfaces import Reward, RewardConfig, RewardInputs, RewardOutput
from editrl.metrics.psnr import PSNR_CAP_DB, masked_psnr, normalised_psnr
from editrl.metrics.ssim import masked_ssim


class MaskedPsnrConfig(RewardConfig):
    scale_db: float = Field(40.0, gt=0.0, le=PSNR_CAP_DB)
    """PSNR (dB) that earns the full reward: value = clamp(PSNR / scale_db, 0, 1). CoCoEdit uses 40."""


class CocoEditSimilarityConfig(RewardConfig):
    scale_db: float = Field(40.0, gt=0.0, le=PSNR_CAP_DB)
    """PSNR (dB) normaliser of ``psnr_norm = clamp(PSNR / scale_db, 0, 1)``. CoCoEdit uses 40."""
    psnr_weight: float = Field(0.65, ge=0.0, le=1.0)
    """Weight of ``psnr_norm`` in ``r_sim`` (CoCoEdit's code: 0.65)."""
    ssim_weight: float = Field(0.35, ge=0.0, le=1.0)
    """Weight of the masked SSIM in ``r_sim`` (CoCoEdit's code: 0.35)."""


def _sample_source_mask(inputs: RewardInputs, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sample images, source images and pixel mask of ``inputs``, with a clear error when one is missing."""
    missing = [f for f in ("images", "source", "mask") if getattr(inputs, f) is None]
    if missing:
        raise ValueError(f"reward {name!r} needs {', '.join(missing)} in its inputs")
    return inputs.images, inputs.source, inputs.mask  # type: ignore[return-value]


def _empty_keep(mask: torch.Tensor) -> float:
    """Number of rows whose ``mask [M, 1, H, W]`` leaves no pixel to keep."""
    return float(((1.0 - mask.float()).sum(dim=(1, 2, 3)) <= 0).sum())


class MaskedPsnrReward(Reward):
    """PSNR of the sample against the source over the non-edit region, normalised to [0, 1] by ``scale_db``."""

    name = "masked_psnr"
    Config: ClassVar[type[MaskedPsnrConfig]] = MaskedPsnrConfig
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "mask"})

    def score(self, inputs: RewardInputs) -> RewardOutput:
        images, source, mask = _sample_source_mask(inputs, self.name)
        psnr_db = masked_psnr(images, source, mask)  # [M]
        return RewardOutput(
            values=normalised_psnr(psnr_db, self.config.scale_db),
            details={"psnr_db": psnr_db},
            counters={"empty_keep": _empty_keep(mask)},
        )


class MaskedSsimReward(Reward):
    """SSIM of the sample against the source, averaged over the non-edit region."""

    name = "masked_ssim"
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "mask"})

    def score(self, inputs: RewardInputs) -> RewardOutput:
        images, source, mask = _sample_source_mask(inputs, self.name)
        return RewardOutput(values=masked_ssim(images, source, mask), counters={"empty_keep": _empty_keep(mask)})


class CocoEditSimilarityReward(Reward):
    """CoCoEdit's ``r_sim = 0.65·psnr_norm + 0.35·SSIM_keep`` against the source over the non-edit region."""

    name = "cocoedit_similarity"
    Config: ClassVar[type[CocoEditSimilarityConfig]] = CocoEditSimilarityConfig
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "mask"})

    def score(self, inputs: RewardInputs) -> RewardOutput:
        images, source, mask = _sample_source_mask(inputs, self.name)
        psnr_db = masked_psnr(images, source, mask)  # [M]
        psnr_norm = normalised_psnr(psnr_db, self.config.scale_db)  # [M]
        ssim = masked_ssim(images, source, mask)  # [M]
        values = self.config.psnr_weight * psnr_norm + self.config.ssim_weight * ssim
        return RewardOutput(
            values=values,
            details={"psnr_norm": psnr_norm, "ssim": ssim, "psnr_db": psnr_db},
            counters={"empty_keep": _empty_keep(mask)},
        )
