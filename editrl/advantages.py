"""Group-relative advantages (math.md §1)."""

from __future__ import annotations

from typing import Literal

import torch


def standardize_terms(terms: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Standardise each reward term over the minibatch: ``terms [T, M]`` → ``(x − mean) / (std + eps)`` per row.

    Population std. A term that is constant over the minibatch becomes all zeros.
    """
    mean = terms.mean(dim=1, keepdim=True)
    std = terms.std(dim=1, unbiased=False, keepdim=True)
    return (terms - mean) / (std + eps)


def group_advantages(
    rewards: torch.Tensor,
    *,
    eps_std: float = 1e-4,
    clip: float = 5.0,
    std_scope: Literal["group", "batch"] = "group",
    min_group_std: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``A = clip((r − mean_group r) / (std + eps_std), ±clip)`` for ``rewards [N, G]``.

    ``std_scope="group"`` takes the population std within each group (GRPO); ``"batch"`` over the whole batch
    (DiffusionNFT). Groups whose own reward std is below ``min_group_std`` get zero advantages.

    Returns:
        ``(advantages [N, G], dead [N] bool)`` where ``dead`` marks the groups that contribute no gradient.
    """
    centred = rewards - rewards.mean(dim=1, keepdim=True)  # [N, G]
    group_std = rewards.std(dim=1, unbiased=False, keepdim=True)  # [N, 1]
    scale = group_std if std_scope == "group" else rewards.std(unbiased=False).reshape(1, 1)
    adv = (centred / (scale + eps_std)).clamp(-clip, clip)
    dead = group_std.squeeze(1) < min_group_std  # [N]
    adv = torch.where(dead[:, None], torch.zeros_like(adv), adv)
    return adv, dead
