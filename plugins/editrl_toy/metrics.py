"""Masked image metrics of the toy world (math.md §6); images in [0, 1], masks ``[M, 1, H, W]`` with 1 = edit."""

from __future__ import annotations

import torch

#: PSNR reported when the compared region is identical (math.md §6).
PSNR_CAP = 100.0


def masked_mse(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``Σ weight·(x − y)² / (C·Σ weight)`` per row.

    Args:
        x, y: ``[M, C, H, W]``.
        weight: ``[M, 1, H, W]`` region weights (0/1).

    Returns:
        ``(mse [M], area [M])``; rows with an empty region get mse 0 and area 0.
    """
    w = weight.float()
    area = w.sum(dim=(1, 2, 3))  # [M]
    err = ((x.float() - y.float()).pow(2) * w).sum(dim=(1, 2, 3))  # [M]
    return err / (x.shape[1] * area).clamp_min(1e-12), area


def masked_psnr(x: torch.Tensor, y: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """True masked PSNR ``10·log10(1 / MSE)`` over ``keep`` pixels, ``[M]``; capped at 100 dB (also when empty)."""
    mse, _ = masked_mse(x, y, keep)
    psnr = 10 * torch.log10(1.0 / mse.clamp_min(1e-30))
    return psnr.clamp(max=PSNR_CAP)
