"""Pixel-space preservation metrics and rewards on the non-edit region: masked PSNR, masked SSIM, CoCoEdit's r_sim.

The metric functions (:mod:`editrl_pixel.psnr`, :mod:`editrl_pixel.ssim`) are plain torch and shared by rewards and
evaluation code; the rewards (:mod:`editrl_pixel.rewards`) compare samples with the source image.
"""

from editrl import hookimpl
from editrl_pixel.psnr import PSNR_CAP_DB, masked_mse, masked_psnr, normalised_psnr
from editrl_pixel.rewards import CocoEditSimilarityReward, MaskedPsnrReward, MaskedSsimReward
from editrl_pixel.ssim import gaussian_filter, masked_ssim, ssim_map

__all__ = [
    "PSNR_CAP_DB", "masked_mse", "masked_psnr", "normalised_psnr", "masked_ssim", "ssim_map", "gaussian_filter",
    "MaskedPsnrReward", "MaskedSsimReward", "CocoEditSimilarityReward",
]


@hookimpl
def editrl_register_components(registry):
    registry.add(MaskedPsnrReward)
    registry.add(MaskedSsimReward)
    registry.add(CocoEditSimilarityReward)
