"""CompBench's background-preservation metrics: PSNR, SSIM and LPIPS of the edit against the **source** image outside
the edit mask, each under two named conventions (notes/eval_metrics.md §1.4, §4.4):

- ``*_zero_fill``, the official one (``eval_all.py``): both images multiplied by ``1 − mask``, then the ordinary
  full-image metric, so the zero-filled hole counts as perfectly preserved and PSNR is higher than the masked one by
  ``10·log10(N / N_keep)``. This is the reward's value, comparable with CompBench's published tables.
- ``*_masked``, the true masked one: the metric averaged over the kept pixels only (editrl's masked PSNR / SSIM of
  :mod:`editrl.metrics`; for LPIPS, its spatial map averaged over the kept pixels).

A row whose mask covers the whole image has no background: it is marked invalid (reason ``no_background``) and left
out of the means, where the official script would average in PSNR = ∞.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from editrl.interfaces import Reward, RewardConfig, RewardInputs, RewardOutput
from editrl.metrics.psnr import masked_psnr, zero_fill_psnr
from editrl.metrics.ssim import masked_ssim, zero_fill_ssim
from editrl_compbench.perceptual import PerceptualDistance

NO_BACKGROUND = "no_background"


def background_inputs(inputs: RewardInputs, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(images [M, 3, H, W], source [M, 3, H, W], mask [M, 1, H, W])`` of ``inputs``, or a clear error."""
    missing = [f for f in ("images", "source", "mask") if getattr(inputs, f) is None]
    if missing:
        raise ValueError(f"metric {name!r} needs {', '.join(missing)} in its inputs")
    return inputs.images, inputs.source, inputs.mask  # type: ignore[return-value]


def background_output(values: torch.Tensor, details: dict[str, torch.Tensor], mask: torch.Tensor) -> RewardOutput:
    """A :class:`RewardOutput` whose rows without a background pixel (``mask [M, 1, H, W]`` all 1) are invalid."""
    has_background = (1.0 - mask.float()).sum(dim=(1, 2, 3)).cpu() > 0  # [M]
    if bool(has_background.all()):
        return RewardOutput(values=values, details=details)
    reasons = [None if ok else NO_BACKGROUND for ok in has_background.tolist()]
    nan = torch.tensor(float("nan"))
    return RewardOutput(
        values=torch.where(has_background, values.cpu(), nan),
        details={k: torch.where(has_background, v.cpu(), nan) for k, v in details.items()},
        valid=has_background,
        reasons=reasons,
    )


class CompBenchPsnr(Reward):
    """CompBench background PSNR (dB, data range 1) against the source: value = the official zero-fill PSNR; details
    ``psnr_zero_fill`` and ``psnr_masked``."""

    name = "compbench_psnr"
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "mask"})

    def score(self, inputs: RewardInputs) -> RewardOutput:
        images, source, mask = background_inputs(inputs, self.name)
        zero_fill = zero_fill_psnr(images, source, mask)  # [M]
        masked = masked_psnr(images, source, mask, empty_value=float("nan"))  # [M]
        return background_output(zero_fill, {"psnr_zero_fill": zero_fill, "psnr_masked": masked}, mask)


class CompBenchSsim(Reward):
    """CompBench background SSIM (Gaussian 11×11, σ 1.5, reflect borders as torchmetrics ≥ 1.5) against the source:
    value = the official zero-fill SSIM; details ``ssim_zero_fill`` and ``ssim_masked``."""

    name = "compbench_ssim"
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "mask"})

    def score(self, inputs: RewardInputs) -> RewardOutput:
        images, source, mask = background_inputs(inputs, self.name)
        zero_fill = zero_fill_ssim(images, source, mask)  # [M]
        masked = masked_ssim(images, source, mask, empty_value=float("nan"))  # [M]
        return background_output(zero_fill, {"ssim_zero_fill": zero_fill, "ssim_masked": masked}, mask)


class CompBenchLpipsConfig(RewardConfig):
    net: Literal["squeeze", "alex", "vgg"] = "squeeze"
    """The ``lpips`` backbone. CompBench (and PIE-Bench) use ``squeeze``; ``alex`` is lpips' own default."""
    batch_size: int = Field(8, ge=1, le=256)
    """Rows passed through the network at once."""


class CompBenchLpips(Reward):
    """CompBench background LPIPS (lpips v0.1, lower is better) against the source: value = the official zero-fill
    LPIPS (inputs ``2·x·keep − 1``); details ``lpips_zero_fill`` and ``lpips_masked`` (lpips' spatial map of the
    unfilled images averaged over the kept pixels).

    The backbone's ImageNet weights are torchvision's, downloaded on first use into torch's hub cache; offline, the
    load stops with the file to fetch and where to put it.
    """

    name = "compbench_lpips"
    Config: ClassVar[type[CompBenchLpipsConfig]] = CompBenchLpipsConfig
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "mask"})

    def __init__(self, config: CompBenchLpipsConfig) -> None:
        super().__init__(config)
        self.distance = PerceptualDistance(config.net)

    def lower_is_better(self, detail: str | None = None) -> bool:
        return True  # a perceptual distance, the value and both details

    def load(self, device: torch.device) -> None:
        self.distance.load(device)

    def score(self, inputs: RewardInputs) -> RewardOutput:
        images, source, mask = background_inputs(inputs, self.name)
        parts = [
            self.distance(x, y, m)
            for x, y, m in zip(*(t.split(self.config.batch_size) for t in (images, source, mask)), strict=True)
        ]
        zero_fill = torch.cat([p[0] for p in parts])  # [M]
        masked = torch.cat([p[1] for p in parts])  # [M]
        return background_output(zero_fill, {"lpips_zero_fill": zero_fill, "lpips_masked": masked}, mask)
