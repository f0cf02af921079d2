"""A probe, loaded as a local plugin: the squared velocity difference to the frozen base editor over one region of
the latent grid (benchmarks/results/toy_base_editor_history.md, "Why RDP costs background").

    PYTHONPATH=benchmarks/probes editrl run recipes/toy/rc_grpo.yaml -p region_kl_probe \
        "regularizers=[{type: region_kl_probe, coef: 1}]"

``velocity_kl`` (plugins/editrl_neighbor_grpo) over the whole image is the shipped regulariser; this one averages
``(v_θ − v_base)²`` over the non-edit latents only (``region: keep``), or the edit ones. It needs masks.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch

from editrl import hookimpl
from editrl.interfaces import Regularizer
from editrl.interfaces.regularizer import RegularizerConfig
from editrl_neighbor_grpo.policy import region_mean


class RegionKLConfig(RegularizerConfig):
    region: Literal["keep", "edit"] = "keep"
    """Which latents the difference is averaged over: the non-edit region (keep) or the edit region."""


class RegionKL(Regularizer):
    """``coef · mean_{region}((v_θ − v_base)²)`` at the chunk's trained states, v_base with the LoRA disabled."""

    name = "region_kl_probe"
    Config: ClassVar[type[RegionKLConfig]] = RegionKLConfig
    requires: ClassVar[frozenset[str]] = frozenset({"velocity", "mask"})

    def loss(self, ctx, chunk, rollout) -> tuple[torch.Tensor, dict[str, float]]:
        t = chunk.tensors
        v = t.need("velocity")  # [R, C, h, w] with grad
        v_base = ctx.base_velocity(t.x, t.sigma, t.cond)  # [R, C, h, w] no grad
        mask = rollout.latent_mask.index_select(0, t.rows.to(rollout.latent_mask.device)).float()  # [R, 1, h, w]
        weight = 1.0 - mask if self.config.region == "keep" else mask  # [R, 1, h, w]
        term = region_mean((v.float() - v_base.float()).square(), weight).mean()
        return term, {"reg/region_kl": float(term.detach())}


@hookimpl
def editrl_register_components(registry):
    registry.add(RegionKL)
