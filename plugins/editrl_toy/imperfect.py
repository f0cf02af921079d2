"""Imperfect pretraining targets: the systematic errors of a real editor, taught to the base toy editor.

A real instruction-guided editor does not reproduce the ground truth: it edits partially, its edit bleeds into the
surroundings, and it re-renders the whole image with a slight colour drift. The base toy editor learns these habits
from its pretraining targets, so that reward-driven post-training has something to repair, in the edit region and
in the background. For a source s, a ground-truth target t and the edit mask m (1 = edit), all ``[3, 32, 32]`` in
[0, 1], each training example draws its own nuisances (so the editor learns a *distribution* of them, and a
sample's share of each depends on its initial noise):

1. edit strength ``α ~ U(strength_min, 1)``: inside the mask the target is ``s + α·(t − s)``;
2. spill-over ``β ~ U(0, spill)``: outside the mask the change bleeds out,
   ``β·blur_r(t − s)`` with a Gaussian blur of standard deviation ``spill_radius`` px;
3. drift ``γ ~ U(0, drift)``: a smooth colour field ``γ·D`` over the whole image, ``D`` a bilinear upsampling of a
   3×3 grid of N(0, 1) offsets per channel; with ``drift_radius`` r > 0, ``D`` is weighted by ``(1 − m)·blur_r(m)``
   scaled to 1 at its peak, a halo around the edit.

The result is ``clamp(s + α·m·(t − s) + β·(1 − m)·blur(t − s) + γ·D, 0, 1)``. With every knob at 0 (and
``strength_min = 1``) the target is the ground truth.

With ``coupling: noise`` the nuisances are not drawn but read off the example's own initial noise ε (the ε its
flow-matching pair is built from), locally, as a real editor's faults follow its seed:

- ``α = strength_min + (1 − strength_min)·Φ(z_in)`` with ``z_in`` the sum of ε over the mask's pixels and channels
  divided by the square root of their count (so ``z_in ~ N(0, 1)`` and ``Φ(z_in) ~ U(0, 1)``): the noise under the
  edit decides how complete the edit is;
- ``β = spill·Φ(z_out)``, ``z_out`` the same statistic outside the mask: the background's noise decides the spill;
- ``γ = drift`` and ``D`` the noise's own low frequencies: its means over a 3×3 grid of blocks, scaled by the
  square root of a block's pixel count (so each is ≈ N(0, 1)), bilinearly upsampled.

A perfect flow-matching editor then samples exactly these targets from these noises (ε determines its path), so
which faults a candidate shows depends on which part of its noise an exploration scheme perturbs: redrawing the
noise under the mask (RDP) varies the edit's completeness and leaves the background's faults shared.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from editrl.component import ComponentConfig

#: Side of the coarse grid of drift offsets, upsampled to the image.
DRIFT_GRID = 3


class ImperfectionConfig(ComponentConfig):
    strength_min: float = Field(1.0, ge=0.0, le=1.0)
    """Lower end of the edit strength α ~ U(strength_min, 1) inside the mask (1: always the full edit)."""
    spill: float = Field(0.0, ge=0.0, le=2.0)
    """Upper end of the spill-over amplitude β ~ U(0, spill) of the blurred change outside the mask (0: none)."""
    spill_radius: float = Field(2.0, gt=0.0, le=8.0)
    """Standard deviation (px) of the Gaussian that spreads the change into the surroundings."""
    drift: float = Field(0.0, ge=0.0, le=0.5)
    """Upper end of the drift amplitude γ ~ U(0, drift) of a smooth colour field over the image ([0, 1] units); with
    ``coupling: noise``, the amplitude itself."""
    drift_radius: float = Field(0.0, ge=0.0, le=16.0)
    """0: the drift covers the whole image; > 0: it is confined to the edit's surroundings, weighted outside the mask
    by the mask blurred with a Gaussian of this standard deviation (px) and scaled to 1 at its peak, and zero inside
    (a halo around the edit, as an editor re-renders the surroundings of what it changes)."""
    coupling: Literal["independent", "noise"] = "independent"
    """independent: α, β, γ and the drift field drawn from the generator; noise: read off each example's initial
    noise ε (the module docstring), so that a sample's faults follow its noise."""

    def active(self) -> bool:
        """Whether any knob changes the ground truth."""
        return self.strength_min < 1.0 or self.spill > 0.0 or self.drift > 0.0


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``x [M, C, H, W]`` (zero padding, radius ``ceil(3σ)``) → ``[M, C, H, W]``."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()  # [2r + 1]
    c = x.shape[1]
    rows = kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1)  # [C, 1, 2r + 1, 1]
    cols = kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1)  # [C, 1, 1, 2r + 1]
    x = F.conv2d(x, rows, padding=(radius, 0), groups=c)
    return F.conv2d(x, cols, padding=(0, radius), groups=c)


def drift_field(m: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth colour fields ``[M, 3, size, size]``: 3×3 N(0, 1) offsets per channel, bilinearly upsampled."""
    coarse = torch.randn(m, 3, DRIFT_GRID, DRIFT_GRID, generator=generator)  # [M, 3, 3, 3]
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)  # [M, 3, size, size]


def normal_cdf(z: torch.Tensor) -> torch.Tensor:
    """Φ(z), the standard normal CDF, elementwise."""
    return 0.5 * (1 + torch.erf(z / math.sqrt(2)))


def noise_nuisances(
    noise: torch.Tensor, edit: torch.Tensor, cfg: ImperfectionConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``coupling: noise``: ``(α [M], β [M], γ [M], D [M, 3, H, W])`` read off ``noise [M, 3, H, W]`` (N(0, I))
    with ``edit [M, 1, H, W]`` the binary mask (see the module docstring)."""
    m, c, h, w = noise.shape
    keep = 1 - edit
    z_in = (noise * edit).sum(dim=(1, 2, 3)) / (c * edit.sum(dim=(1, 2, 3))).clamp_min(1).sqrt()  # [M] ~ N(0, 1)
    z_out = (noise * keep).sum(dim=(1, 2, 3)) / (c * keep.sum(dim=(1, 2, 3))).clamp_min(1).sqrt()  # [M]
    alpha = cfg.strength_min + (1 - cfg.strength_min) * normal_cdf(z_in)
    beta = cfg.spill * normal_cdf(z_out)
    gamma = torch.full((m,), cfg.drift, dtype=noise.dtype)
    block = h * w / DRIFT_GRID**2  # pixels per block (≈ 114 for 32²)
    coarse = F.adaptive_avg_pool2d(noise, DRIFT_GRID) * math.sqrt(block)  # [M, 3, 3, 3], each ≈ N(0, 1)
    field = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True)  # [M, 3, H, W]
    return alpha, beta, gamma, field


def imperfect_targets(
    source: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    cfg: ImperfectionConfig,
    generator: torch.Generator,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """The base editor's pretraining targets ``[M, 3, H, W]`` in [0, 1] (see the module docstring).

    Args:
        source, target: ``[M, 3, H, W]`` images in [0, 1].
        mask: ``[M, 1, H, W]``, 1 = edit.
        cfg: the nuisance amplitudes.
        generator: the source of α, β, γ and the drift offsets (drawn in that order, always, so the stream does not
            depend on which knobs are active); unused with ``coupling: noise``.
        noise: ``[M, 3, H, W]``, each example's initial noise ε; required with ``coupling: noise``.

    Returns:
        ``target`` itself when no knob is active, else the imperfect targets.
    """
    m = source.shape[0]
    edit = (mask > 0.5).to(source.dtype)  # [M, 1, H, W]
    # step 1: per-example amplitudes
    if cfg.coupling == "noise":
        if noise is None:
            raise ValueError("imperfection.coupling: noise needs each example's initial noise")
        alpha, beta, gamma, field = noise_nuisances(noise.to(source.dtype), edit, cfg)
    else:
        alpha = cfg.strength_min + (1 - cfg.strength_min) * torch.rand(m, generator=generator)  # [M]
        beta = cfg.spill * torch.rand(m, generator=generator)  # [M]
        gamma = cfg.drift * torch.rand(m, generator=generator)  # [M]
        field = drift_field(m, source.shape[-1], generator)  # [M, 3, H, W]
    if not cfg.active():
        return target
    # step 2: the partial edit inside the mask and its spill-over outside
    change = target - source  # [M, 3, H, W], zero outside the mask
    spilled = gaussian_blur(change, cfg.spill_radius) * (1 - edit)  # [M, 3, H, W]
    out = source + alpha.view(m, 1, 1, 1) * edit * change + beta.view(m, 1, 1, 1) * spilled
    # step 3: the drift over the whole image, or over a halo around the edit
    if cfg.drift_radius > 0:
        halo = gaussian_blur(edit, cfg.drift_radius) * (1 - edit)  # [M, 1, H, W], zero inside the mask
        field = field * halo / halo.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    out = out + gamma.view(m, 1, 1, 1) * field
    return out.clamp(0.0, 1.0)
