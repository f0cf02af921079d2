"""The 2×2 latent packing of FLUX and Qwen-Image (``_pack_latents`` / ``_unpack_latents``, identical in both)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pack(x: torch.Tensor) -> torch.Tensor:
    """``[M, C, h, w]`` → ``[M, (h/2)(w/2), 4C]``, token index ``r·(w/2) + c``, features ``(c, dy, dx)``."""
    M, C, h, w = x.shape
    return x.reshape(M, C, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(M, (h // 2) * (w // 2), C * 4)


def unpack(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`pack`: ``[M, (h/2)(w/2), 4C]`` → ``[M, C, h, w]``."""
    M, _, D = tokens.shape
    C = D // 4
    return tokens.reshape(M, h // 2, w // 2, C, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(M, C, h, w)


def packed_token_mask(mask: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
    """``[N, 1, H', W']`` (1 = edit; pixel or latent grid) → ``[N, (h/2)(w/2)]`` in :func:`pack` order: a token is
    edit if any cell under its 2×2 latent cells is (the max-pool rule of docs/method.md §0)."""
    _, h, w = latent_shape
    return F.adaptive_max_pool2d(mask.float(), (h // 2, w // 2)).flatten(1)  # [N, (h/2)(w/2)]
