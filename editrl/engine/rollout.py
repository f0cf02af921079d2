"""Deterministic rollouts: integrate the flow ODE from given initial noises, storing states when asked."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from editrl.interfaces import Backbone, Condition, Solver


@torch.no_grad()
def integrate(
    backbone: Backbone,
    solver: Solver,
    x_T: torch.Tensor,
    cond: Condition,
    sigmas: torch.Tensor,
    *,
    keep_states: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run the solver over ``sigmas`` from ``x_T``.

    Args:
        x_T: ``[M, C, h, w]`` initial noises.
        cond: condition with M rows (already expanded to the group).
        sigmas: ``[K + 1]`` noise levels, decreasing to 0.
        keep_states: also return every state (the leaping policy needs them).

    Returns:
        ``(x_0 [M, C, h, w], states [K + 1, M, C, h, w] or None)``; states are stored in float32.
    """
    velocity = lambda x, s: backbone.velocity(x, s, cond)  # noqa: E731
    x = x_T
    states = [x_T.float()] if keep_states else None
    levels = sigmas.tolist()
    for k in range(len(levels) - 1):
        x = solver.step(velocity, x, levels[k], levels[k + 1])
        if states is not None:
            states.append(x.float())
    return x, (torch.stack(states) if states is not None else None)


def row_chunks(rows: int, size: int | None) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges of at most ``size`` rows covering ``0 .. rows − 1`` (one range when
    ``size`` is None or not smaller than ``rows``)."""
    step = rows if size is None else max(1, min(size, rows))
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


@dataclass
class RolloutPart:
    """What one rollout micro-batch of r rows produced (None where nobody asked for it)."""

    final: torch.Tensor  # [r, C, h, w]
    states: torch.Tensor | None  # [K+1, r, C, h, w]
    images: torch.Tensor | None  # [r, 3, H, W]
    maps: list[torch.Tensor] | None  # per (forward, layer): [r, n_img]

    @staticmethod
    def cat(parts: list[RolloutPart]) -> RolloutPart:
        """Consecutive parts as one (the rows of every part, in order)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        return RolloutPart(
            torch.cat([p.final for p in parts]),
            None if first.states is None else torch.cat([p.states for p in parts], dim=1),
            None if first.images is None else torch.cat([p.images for p in parts]),
            None if first.maps is None else [torch.cat(m) for m in zip(*(p.maps for p in parts))],
        )
