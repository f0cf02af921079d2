"""Scoring final samples: build each reward's inputs once, call the rewards, combine the terms (math.md §1)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from editrl.advantages import standardize_terms
from editrl.interfaces import EditBatch, Reward, RewardInputs, RewardOutput


def reward_names(rewards: list[Reward]) -> list[str]:
    """Metric names of the reward terms: the type, suffixed ``_2``, ``_3`` when a type appears again."""
    seen: dict[str, int] = {}
    names = []
    for r in rewards:
        seen[r.name] = seen.get(r.name, 0) + 1
        names.append(r.name if seen[r.name] == 1 else f"{r.name}_{seen[r.name]}")
    return names


def needed_inputs(rewards: list[Reward]) -> frozenset[str]:
    return frozenset().union(*(r.requires for r in rewards)) if rewards else frozenset()


def attention_layers(rewards: list[Reward]) -> int:
    """How many of the last attention layers must be captured (0: no capture)."""
    return max((r.attention_layers for r in rewards if "attention" in r.requires), default=0)


def build_inputs(
    needs: frozenset[str],
    batch: EditBatch,
    group_size: int,
    final: torch.Tensor,
    images: torch.Tensor | None,
    attention: list[torch.Tensor] | None,
    token_mask: torch.Tensor | None,
    attention_layers: int = 0,
) -> RewardInputs:
    """Rows group-major: example n's G candidates are rows n·G .. n·G+G−1.

    Args:
        final: ``[N, G, C, h, w]`` final latents.
        images: ``[N·G, 3, H, W]`` decoded samples, when needed.
        attention: the captured maps, ``F·L`` tensors ``[N·G, n_img]`` (F forwards, L layers per forward).
        token_mask: ``[N, n_img]``, when attention is needed.
    """
    G = group_size
    rep = lambda t: None if t is None else t.repeat_interleave(G, dim=0)  # noqa: E731  [N, ...] → [N·G, ...]
    rep_list = lambda xs: None if xs is None else [x for x in xs for _ in range(G)]  # noqa: E731
    attn = None
    if "attention" in needs and attention:
        L = attention_layers
        attn = torch.stack(attention).view(len(attention) // L, L, *attention[0].shape)  # [F, L, M, n_img]
    return RewardInputs(
        tasks=rep_list(batch.tasks),
        images=images if "images" in needs else None,
        latents=final.flatten(0, 1) if "latents" in needs else None,
        source=rep(batch.source) if "source" in needs else None,
        mask=rep(batch.mask) if "mask" in needs else None,
        target=rep(batch.target) if "target" in needs else None,
        instructions=rep_list(batch.instructions) if "instruction" in needs else None,
        descriptions=rep_list(batch.descriptions) if "description" in needs else None,
        attention=attn,
        token_mask=rep(token_mask) if "attention" in needs else None,
    )


@dataclass
class Scores:
    outputs: list[RewardOutput]  # one per reward term, values [M]
    total: torch.Tensor  # [N, G] weighted sum of minibatch-standardised terms
    finite: bool  # every term finite


def combine(rewards: list[Reward], outputs: list[RewardOutput], N: int, G: int) -> Scores:
    """1. stack the terms [T, M]; 2. standardise each over the minibatch; 3. weighted sum → [N, G]."""
    terms = torch.stack([o.values.detach().float().cpu() for o in outputs])  # [T, M]
    finite = bool(torch.isfinite(terms).all())
    weights = torch.tensor([r.weight for r in rewards], dtype=torch.float32)[:, None]  # [T, 1]
    total = (weights * standardize_terms(terms)).sum(0).view(N, G)
    return Scores(outputs=outputs, total=total, finite=finite)


def reward_metrics(names: list[str], scores: Scores, G: int) -> dict[str, float]:
    """Per term and sub-score: its logs, and the mean within-group std (how much a group's candidates differ)."""
    out: dict[str, float] = {}
    spread = lambda v: float(v.float().view(-1, G).std(dim=1, unbiased=False).mean())  # noqa: E731
    for name, o in zip(names, scores.outputs):
        out.update(o.log(f"reward/{name}"))
        out[f"reward/{name}/group_std"] = spread(o.values)
        out.update({f"reward/{name}/{k}_group_std": spread(v) for k, v in o.details.items()})
    out["reward/total_group_std"] = float(scores.total.std(dim=1, unbiased=False).mean())
    return out


def background_drift(images: torch.Tensor, mask: torch.Tensor, G: int) -> float:
    """Mean over groups and candidate pairs of the RMS difference of the non-edit regions.

    Args:
        images: ``[N·G, 3, H, W]``; mask: ``[N, 1, H, W]`` (1 = edit).
    """
    x = images.float().view(-1, G, *images.shape[1:])  # [N, G, 3, H, W]
    keep = (1 - mask.float())[:, None]  # [N, 1, 1, H, W]
    diff = (x[:, :, None] - x[:, None, :]) * keep[:, :, None]  # [N, G, G, 3, H, W]
    n_keep = (keep.sum(dim=(-1, -2, -3)) * x.shape[2]).clamp_min(1)  # [N, 1]
    msd = diff.pow(2).sum(dim=(-1, -2, -3)) / n_keep[:, :, None]  # [N, G, G]
    off = ~torch.eye(G, dtype=torch.bool)
    return float(msd.sqrt()[:, off].mean())
