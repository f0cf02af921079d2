"""Image metrics shared by rewards and evaluation: masked PSNR and SSIM of the non-edit region (docs/method.md §6)."""

from editrl.metrics.psnr import PSNR_CAP_DB, masked_mse, masked_psnr, normalised_psnr
from editrl.metrics.ssim import masked_ssim, ssim_map

__all__ = ["PSNR_CAP_DB", "masked_mse", "masked_psnr", "normalised_psnr", "masked_ssim", "ssim_map"]
