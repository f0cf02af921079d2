"""Attention Concentration Density reward (RC-GRPO Eq. 16–18, docs/method.md §5)."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from editrl.interfaces import Reward, RewardConfig, RewardInputs, RewardOutput

EPS_ACD = 1e-6


class AcdConfig(RewardConfig):
    layers: int = Field(4, ge=1, le=128)
    """The last L attention layers whose text→image attention is scored (editrl's starting point)."""


def acd(attention: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """ACD per map: ``(Σ_p M_p m_p / max(Σ_p M_p, 1)) / (mean_p m_p + ε)``.

    Args:
        attention: ``[..., M, n_img]`` maps m_p (text→target attention averaged over heads and real text tokens).
        token_mask: ``[M, n_img]`` 1 = edit token.

    Returns:
        ``[..., M]``; 1 where the mask is empty (neutral).
    """
    mask = token_mask.float()  # [M, n]
    area = mask.sum(-1)  # [M]
    inside = (attention * mask).sum(-1) / area.clamp_min(1)  # [..., M]
    ratio = inside / (attention.mean(-1) + EPS_ACD)
    return torch.where(area > 0, ratio, torch.ones_like(ratio))


class AttentionConcentration(Reward):
    """R_ACD: how much the instruction's attention falls inside the edit region (> 1 concentrated, ≈ 1 diffuse).

    The mean of ACD over the last ``layers`` attention layers and every rollout forward. Computed from the θ_old
    rollout only. Needs a backbone that captures attention and a dataset with edit masks; an empty mask scores 1
    and is counted in ``empty_masks``.
    """

    name = "acd"
    Config: ClassVar[type[AcdConfig]] = AcdConfig
    requires: ClassVar[frozenset[str]] = frozenset({"attention", "mask"})

    @property
    def attention_layers(self) -> int:
        return self.config.layers

    def score(self, inputs: RewardInputs) -> RewardOutput:
        maps = inputs.attention[:, -self.config.layers :].float()  # [F, L, M, n_img]
        values = acd(maps, inputs.token_mask.to(maps.device)).mean(dim=(0, 1))  # [M]
        empty = float((inputs.token_mask.flatten(1).sum(1) == 0).sum())
        return RewardOutput(values=values.cpu(), counters={"empty_masks": empty})
