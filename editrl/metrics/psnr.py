"""Masked PSNR over the non-edit region (docs/method.md §6), usable by rewards and by evaluation code.

Images are ``[M, 3, H, W]`` in [0, 1]; ``mask [M, 1, H, W]`` marks the edit region with 1 and ``keep = 1 − mask`` the
region that must be preserved. This is the *true masked* PSNR: the squared error is averaged over kept elements only
(channels included), unlike CompBench's zero-fill PSNR, which is higher by ``10·log10(N / N_keep)``.
"""

from __future__ import annotations

import torch

#: PSNR reported for a perfect match (MSE = 0) and the ceiling of every value: 10·log10(1 / 1e-10).
PSNR_CAP_DB = 100.0
_MSE_FLOOR = 10.0 ** (-PSNR_CAP_DB / 10.0)


def masked_mse(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean squared error over the kept elements of each row.

    ``MSE = Σ keep·(x − y)² / (C · Σ keep)`` with ``keep = 1 − mask`` summed over pixels (a soft mask weighs pixels).

    Args:
        x: ``[M, C, H, W]`` images.
        y: ``[M, C, H, W]`` reference images.
        mask: ``[M, 1, H, W]``, 1 = edit region (excluded).

    Returns:
        ``(mse [M], keep_weight [M])`` in float32, where ``keep_weight = Σ keep`` over pixels. Rows with
        ``keep_weight == 0`` have ``mse == 0`` (nothing to compare); callers decide what such a row means.
    """
    _check_shapes(x, y, mask)
    keep = 1.0 - mask.float()  # [M, 1, H, W]
    channels = x.shape[1]
    sq = (x.float() - y.float()).square()  # [M, C, H, W]
    err = (keep * sq).sum(dim=(1, 2, 3))  # [M]
    keep_weight = keep.sum(dim=(1, 2, 3))  # [M]
    mse = err / (channels * keep_weight).clamp_min(torch.finfo(torch.float32).tiny)  # [M]; 0 / tiny = 0 when empty
    return mse, keep_weight


def masked_psnr(
    x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, *, empty_value: float = PSNR_CAP_DB
) -> torch.Tensor:
    """PSNR in dB of ``x`` against ``y`` over the non-edit region, data range 1.

    ``PSNR = 10·log10(1 / MSE)`` with the MSE of :func:`masked_mse`, capped at :data:`PSNR_CAP_DB` (100 dB), which is
    also the value at MSE = 0.

    A row whose mask covers the whole image (no kept pixel) has nothing to preserve. It gets ``empty_value``: by
    default the cap, i.e. vacuously perfect preservation, which is finite and identical for every candidate of a
    group, so as a reward it neither crashes nor ranks candidates. Evaluation code that must not average such rows in
    passes ``empty_value=float("nan")`` and takes a nan-mean.

    Args:
        x: ``[M, C, H, W]`` images in [0, 1] (the edited sample).
        y: ``[M, C, H, W]`` reference images in [0, 1] (the source, for preservation).
        mask: ``[M, 1, H, W]``, 1 = edit region.
        empty_value: PSNR of a row without kept pixels.

    Returns:
        ``[M]`` float32 PSNR in dB.
    """
    mse, keep_weight = masked_mse(x, y, mask)
    psnr = 10.0 * torch.log10(1.0 / mse.clamp_min(_MSE_FLOOR))  # [M], at most PSNR_CAP_DB
    return torch.where(keep_weight > 0, psnr, torch.full_like(psnr, empty_value))


def zero_fill_psnr(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CompBench's (and PIE-Bench's) background PSNR: both images multiplied by ``keep = 1 − mask`` (the edit region
    zero-filled), then the ordinary PSNR over **all** ``C·H·W`` elements, data range 1, capped at :data:`PSNR_CAP_DB`.

    The error is the masked one scaled by the kept share, ``MSE_zf = MSE_masked · Σ keep / (H·W)``, so
    ``PSNR_zf = PSNR_masked + 10·log10(H·W / Σ keep)`` (notes/eval_metrics.md §4.4). A soft mask zero-fills
    partially, ``(x − y)²·keep²``, exactly as ``x·keep`` against ``y·keep`` does.

    Args:
        x: ``[M, C, H, W]`` images in [0, 1] (the edited sample).
        y: ``[M, C, H, W]`` reference images in [0, 1] (the source).
        mask: ``[M, 1, H, W]``, 1 = edit region.

    Returns:
        ``[M]`` float32 PSNR in dB (the cap where nothing differs, e.g. a mask covering the image).
    """
    _check_shapes(x, y, mask)
    keep = 1.0 - mask.float()  # [M, 1, H, W]
    nothing_masked = torch.zeros_like(keep)  # [M, 1, H, W]: after the fill, every element counts
    return masked_psnr(x.float() * keep, y.float() * keep, nothing_masked)  # [M]


def normalised_psnr(psnr_db: torch.Tensor, scale_db: float = 40.0) -> torch.Tensor:
    """CoCoEdit's ``psnr_norm = clamp(PSNR / scale_db, 0, 1)`` (scale 40 dB in CoCoEdit)."""
    return (psnr_db / scale_db).clamp(0.0, 1.0)


def _check_shapes(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape != y.shape:
        raise ValueError(f"images must be [M, C, H, W] of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if mask.shape != (x.shape[0], 1, *x.shape[2:]):
        raise ValueError(f"mask must be [M, 1, H, W] = {(x.shape[0], 1, *x.shape[2:])}, got {tuple(mask.shape)}")
