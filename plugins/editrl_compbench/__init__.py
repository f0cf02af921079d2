"""CompBench (Jia et al. 2025): its local-editing subsets as a dataset and its official metrics as eval metrics.

- ``compbench`` (:mod:`editrl_compbench.dataset`): the folder layout of CompBench's ``eval_all.py`` or its parquet
  export, add / remove / replace, with mask, ground truth and local description.
- ``compbench_psnr``, ``compbench_ssim``, ``compbench_lpips`` (:mod:`editrl_compbench.background`): background
  preservation against the source, in the official zero-fill form and the true masked one.
- ``compbench_lc_t``, ``compbench_lc_i`` (:mod:`editrl_compbench.local_clip`): CLIP text and image scores on the
  official mask-bounding-box crops.

Per task type and overall reporting is the evaluation engine's; CompBench's "Local Editing" number is the unweighted
mean of the three tasks' means.
"""

from editrl import hookimpl
from editrl_compbench.background import CompBenchLpips, CompBenchPsnr, CompBenchSsim
from editrl_compbench.dataset import CompBench
from editrl_compbench.local_clip import LocalClipImage, LocalClipText

__all__ = ["CompBench", "CompBenchPsnr", "CompBenchSsim", "CompBenchLpips", "LocalClipText", "LocalClipImage"]


@hookimpl
def editrl_register_components(registry):
    registry.add(CompBench)
    for metric in (CompBenchPsnr, CompBenchSsim, CompBenchLpips, LocalClipText, LocalClipImage):
        registry.add(metric)
