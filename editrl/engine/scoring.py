"""Scoring final samples: build each reward's inputs once, call the rewards, combine the terms (docs/method.md §1)."""

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
    rows: tuple[int, int] | None = None,
) -> RewardInputs:
    """Rows group-major: example n's G candidates are rows n·G .. n·G+G−1.

    Args:
        final: ``[N, G, C, h, w]`` final latents; with ``rows``, ``[r, C, h, w]``: those rows only.
        images: ``[N·G, 3, H, W]`` decoded samples, when needed (with ``rows``, ``[r, 3, H, W]``).
        attention: the captured maps, ``F·L`` tensors ``[N·G, n_img]`` (F forwards, L layers per forward; with
            ``rows``, ``[r, n_img]``).
        token_mask: ``[N, n_img]``, when attention is needed.
        rows: ``(start, stop)``: the inputs of rows start .. stop − 1 of the N·G only (a rollout micro-batch).
    """
    G = group_size
    start, stop = (0, len(batch) * G) if rows is None else rows
    # per-example fields repeated per candidate, then cut to the rows: [N, ...] → [r, ...]
    rep = lambda t: None if t is None else t.repeat_interleave(G, dim=0)[start:stop]  # noqa: E731
    rep_list = lambda xs: None if xs is None else [x for x in xs for _ in range(G)][start:stop]  # noqa: E731
    attn = None
    if "attention" in needs and attention:
        L = attention_layers
        attn = torch.stack(attention).view(len(attention) // L, L, *attention[0].shape)  # [F, L, M, n_img]
    return RewardInputs(
        tasks=rep_list(batch.tasks),
        images=images if "images" in needs else None,
        latents=(final if rows is not None else final.flatten(0, 1)) if "latents" in needs else None,
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
    total: torch.Tensor  # [N, G] weighted sum of minibatch-standardised terms, NaN on invalid rows
    finite: bool  # every term finite on the valid rows
    valid: torch.Tensor | None = None  # [N, G] bool: every term scored the row


def combine(rewards: list[Reward], outputs: list[RewardOutput], N: int, G: int) -> Scores:
    """1. stack the terms [T, M]; a row is valid when every term scored it; 2. standardise each term over the
    minibatch's valid rows; 3. weighted sum → [N, G] (NaN on invalid rows: the optimiser's group statistics leave
    them out, see :func:`editrl.advantages.group_advantages`)."""
    terms = torch.stack([o.values.detach().float().cpu() for o in outputs])  # [T, M]
    valid = torch.stack([o.valid_mask for o in outputs]).all(dim=0)  # [M]
    finite = bool(torch.isfinite(terms[:, valid]).all())
    weights = torch.tensor([r.weight for r in rewards], dtype=torch.float32)[:, None]  # [T, 1]
    total = (weights * standardize_terms(terms, valid=valid)).sum(0).view(N, G)
    return Scores(outputs=outputs, total=total, finite=finite, valid=valid.view(N, G))


def _spread(values: torch.Tensor, valid: torch.Tensor, G: int) -> float:
    """Mean over groups of the within-group population std, over valid rows (groups without one are skipped)."""
    v = values.detach().float().cpu().view(-1, G)  # [N, G]
    if bool(valid.all()):
        return float(v.std(dim=1, unbiased=False).mean())
    keep = valid.view(-1, G)  # [N, G]
    n = keep.sum(dim=1)  # [N]
    mean = torch.where(keep, v, 0.0).sum(dim=1, keepdim=True) / n.clamp_min(1)[:, None]  # [N, 1]
    std = (torch.where(keep, v - mean, 0.0).pow(2).sum(dim=1) / n.clamp_min(1)).sqrt()  # [N]
    return float(std[n > 0].mean()) if bool((n > 0).any()) else float("nan")


def reward_metrics(names: list[str], scores: Scores, G: int) -> dict[str, float]:
    """Per term and sub-score: its logs (invalid rows per reason included), and the mean within-group std (how much
    a group's candidates differ) over valid rows."""
    out: dict[str, float] = {}
    for name, o in zip(names, scores.outputs):
        keep = o.valid_mask
        out.update(o.log(f"reward/{name}"))
        out[f"reward/{name}/group_std"] = _spread(o.values, keep, G)
        out.update({f"reward/{name}/{k}_group_std": _spread(v, keep, G) for k, v in o.details.items()})
    valid = scores.valid if scores.valid is not None else torch.ones_like(scores.total, dtype=torch.bool)
    out["reward/total_group_std"] = _spread(scores.total, valid.flatten(), G)
    if not bool(valid.all()):
        out["reward/invalid_rows"] = float((~valid).sum())
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
