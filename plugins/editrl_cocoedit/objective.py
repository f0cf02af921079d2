"""The DiffusionNFT objective as plain tensor functions (docs/method.md §7), shared by the optimiser and its tests."""

from __future__ import annotations

import torch

#: Floor of the adaptive weight sg(mean|x̂_0 − x_0|) (DiffusionNFT's code).
WEIGHT_FLOOR = 1e-5


def optimality(advantages: torch.Tensor, adv_clip: float) -> torch.Tensor:
    """The optimality probability ``r = clamp(0.5 + clamp(A, ±c) / (2c), 0, 1)``; with c = 5 this is 0.5 + A/10.

    A candidate at its group's mean gets r = ½ (neutral), one c global stds above it r = 1.
    """
    a = advantages.clamp(-adv_clip, adv_clip)
    return (0.5 + a / (2 * adv_clip)).clamp(0.0, 1.0)


def kept_groups(rewards: torch.Tensor, filter_std: float | None, filter_mean: float | None) -> torch.Tensor:
    """CoCoEdit's group filter: ``[N]`` True for the groups of ``rewards [N, G]`` that enter the loss.

    A group is dropped when its reward std (population) is ``≤ filter_std`` (nothing to learn from) or its mean is
    ``≥ filter_mean`` (already solved); a threshold of None keeps every group on that criterion. Non-finite rewards
    (rows a reward could not score) are left out of the statistics.
    """
    keep = torch.ones(rewards.shape[0], dtype=torch.bool, device=rewards.device)  # [N]
    mean = rewards.nanmean(dim=1)  # [N]
    if filter_std is not None:
        std = (rewards - mean[:, None]).pow(2).nanmean(dim=1).sqrt()  # [N] population std of the finite rows
        keep &= std > filter_std
    if filter_mean is not None:
        keep &= mean < filter_mean
    return keep


def noised(x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``x_σ = (1 − σ)·x_0 + σ·ε`` for ``x0, eps [R, C, h, w]`` and ``sigma [R]``."""
    s = sigma.view(-1, *([1] * (x0.dim() - 1)))  # [R, 1, 1, 1]
    return (1 - s) * x0 + s * eps


def branch_predictions(
    x_sigma: torch.Tensor, sigma: torch.Tensor, v_theta: torch.Tensor, v_old: torch.Tensor, beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean-sample predictions of the implicit positive and negative policies, ``(x̂⁺_0, x̂⁻_0)`` ``[R, C, h, w]``.

    ``v⁺ = (1 − β)·v_old + β·v_θ``, ``v⁻ = (1 + β)·v_old − β·v_θ``, ``x̂±_0 = x_σ − σ·v±``; ``v_old`` is detached.
    """
    s = sigma.view(-1, *([1] * (x_sigma.dim() - 1)))  # [R, 1, 1, 1]
    v_old = v_old.detach()
    v_pos = (1 - beta) * v_old + beta * v_theta  # [R, C, h, w]
    v_neg = (1 + beta) * v_old - beta * v_theta  # [R, C, h, w]
    return x_sigma - s * v_pos, x_sigma - s * v_neg


def adaptive_loss(x0_hat: torch.Tensor, x0: torch.Tensor, adaptive: bool = True) -> torch.Tensor:
    """Per row ``mean((x̂_0 − x_0)²) / sg(mean|x̂_0 − x_0|)`` (the weight floored at 1e-5, taken in float64), or the
    plain mean squared error when ``adaptive`` is False. ``[R, C, h, w]`` → ``[R]``."""
    diff = (x0_hat - x0).flatten(1)  # [R, C·h·w]
    mse = diff.pow(2).mean(dim=1)  # [R]
    if not adaptive:
        return mse
    weight = diff.detach().double().abs().mean(dim=1).clamp_min(WEIGHT_FLOOR)  # [R] float64
    return mse / weight.to(mse.dtype)


def nft_rows(r: torch.Tensor, loss_pos: torch.Tensor, loss_neg: torch.Tensor, beta: float) -> torch.Tensor:
    """Per row ``r·L⁺/β + (1 − r)·L⁻/β`` (the optimiser scales their mean by ``adv_clip``, DiffusionNFT's 5)."""
    return (r * loss_pos + (1 - r) * loss_neg) / beta
