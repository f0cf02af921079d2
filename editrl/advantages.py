"""Group-relative advantages (docs/method.md §1)."""

from __future__ import annotations

import math
from typing import Literal

import torch


def standardize_terms(terms: torch.Tensor, eps: float = 1e-8, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Standardise each reward term over the minibatch: ``terms [T, M]`` → ``(x − mean) / (std + eps)`` per row.

    Population std. A term that is constant over the minibatch becomes all zeros. With ``valid [M]`` (bool) the mean
    and std are taken over the valid columns only and the invalid columns come out NaN.
    """
    if valid is not None and not bool(valid.all()):
        keep = valid.bool()[None, :].expand_as(terms)  # [T, M]
        n = keep.sum(dim=1, keepdim=True).clamp_min(1)  # [T, 1]
        mean = torch.where(keep, terms, 0.0).sum(dim=1, keepdim=True) / n  # [T, 1]
        var = torch.where(keep, terms - mean, 0.0).pow(2).sum(dim=1, keepdim=True) / n  # [T, 1]
        z = (terms - mean) / (var.sqrt() + eps)  # [T, M]
        return torch.where(keep, z, torch.full_like(z, math.nan))
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

    A non-finite reward marks an invalid row (the engine writes NaN where a reward could not score a candidate):
    the statistics are taken over each group's valid rows only, invalid rows get zero advantage, and a group with
    fewer than two valid rows is dead.

    Returns:
        ``(advantages [N, G], dead [N] bool)`` where ``dead`` marks the groups that contribute no gradient.
    """
    valid = torch.isfinite(rewards)  # [N, G]
    if not bool(valid.all()):
        return _masked_group_advantages(rewards, valid, eps_std, clip, std_scope, min_group_std)
    centred = rewards - rewards.mean(dim=1, keepdim=True)  # [N, G]
    group_std = rewards.std(dim=1, unbiased=False, keepdim=True)  # [N, 1]
    scale = group_std if std_scope == "group" else rewards.std(unbiased=False).reshape(1, 1)
    adv = (centred / (scale + eps_std)).clamp(-clip, clip)
    dead = group_std.squeeze(1) < min_group_std  # [N]
    adv = torch.where(dead[:, None], torch.zeros_like(adv), adv)
    return adv, dead


def _masked_group_advantages(
    rewards: torch.Tensor, valid: torch.Tensor, eps_std: float, clip: float, std_scope: str, min_group_std: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`group_advantages` over the valid rows only: 1. masked group mean and population std; 2. the batch std
    over every valid row (``std_scope="batch"``); 3. dead groups (< 2 valid rows or std < ``min_group_std``) and
    invalid rows get zero."""
    # step 1
    n = valid.sum(dim=1, keepdim=True)  # [N, 1]
    r = torch.where(valid, rewards, 0.0)  # [N, G]
    mean = r.sum(dim=1, keepdim=True) / n.clamp_min(1)  # [N, 1]
    centred = torch.where(valid, rewards - mean, 0.0)  # [N, G]
    group_std = (centred.pow(2).sum(dim=1, keepdim=True) / n.clamp_min(1)).sqrt()  # [N, 1]
    # step 2
    if std_scope == "group":
        scale = group_std
    else:
        flat = rewards[valid]  # [V]
        scale = flat.std(unbiased=False).reshape(1, 1) if flat.numel() else torch.ones(1, 1)
    adv = (centred / (scale + eps_std)).clamp(-clip, clip)  # [N, G]
    # step 3
    dead = (n.squeeze(1) < 2) | (group_std.squeeze(1) < min_group_std)  # [N]
    adv = torch.where(dead[:, None] | ~valid, torch.zeros_like(adv), adv)
    return adv, dead
