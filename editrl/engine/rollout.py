"""Deterministic rollouts: integrate the flow ODE from given initial noises, storing states when asked."""

from __future__ import annotations

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
