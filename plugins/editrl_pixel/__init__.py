"""Pixel-space preservation metrics and rewards on the non-edit region: masked PSNR, masked SSIM, CoCoEdit's r_sim.

The metric functions live in the core (:mod:`editrl.metrics`), shared with evaluation and other plugins; the rewards
here (:mod:`editrl_pixel.rewards`) compare samples with the source image.
"""

from editrl import hookimpl
from editrl_pixel.rewards import CocoEditSimilarityReward, MaskedPsnrReward, MaskedSsimReward

__all__ = ["MaskedPsnrReward", "MaskedSsimReward", "CocoEditSimilarityReward"]


@hookimpl
def editrl_register_components(registry):
    registry.add(MaskedPsnrReward)
    registry.add(MaskedSsimReward)
    registry.add(CocoEditSimilarityReward)
