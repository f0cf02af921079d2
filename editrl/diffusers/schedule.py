"""The flow-matching noise levels of the FLUX / Qwen-Image pipelines: ``linspace(1, 1/K, K)``, the resolution shift μ
from the number of *generated* tokens (never the reference tokens), the scheduler's own ``set_timesteps`` (its time
shift and terminal stretch) and its trailing 0."""

from __future__ import annotations

import torch


def flow_sigmas(scheduler_config, num_steps: int, image_tokens: int) -> torch.Tensor:
    """``[K + 1]`` float32 sigmas exactly as ``pipe.scheduler.sigmas`` after the pipeline's ``retrieve_timesteps``.

    A fresh scheduler is made from ``scheduler_config`` each call (``set_timesteps`` is stateful). μ is
    ``calculate_shift(image_tokens, ...)`` with the pipeline's fallbacks (256, 4096, 0.5, 1.15) for missing keys.
    """
    import numpy as np
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    scheduler = FlowMatchEulerDiscreteScheduler.from_config(scheduler_config)
    c = scheduler.config
    mu = calculate_shift(
        image_tokens,
        c.get("base_image_seq_len", 256),
        c.get("max_image_seq_len", 4096),
        c.get("base_shift", 0.5),
        c.get("max_shift", 1.15),
    )
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / num_steps, num_steps), mu=mu)
    return scheduler.sigmas.to(torch.float32).cpu()  # [K + 1], trailing 0
