"""KL-style anchor to the frozen base editor: mean squared velocity difference (docs/method.md §4, optional β_KL)."""

from __future__ import annotations

from typing import ClassVar

import torch

from editrl.interfaces import LossChunk, Regularizer, Rollout, TrainContext


class VelocityKL(Regularizer):
    """β_KL · mean((v_θ − v_base)²) at the trained states, v_base with LoRA disabled."""

    name = "velocity_kl"
    requires: ClassVar[frozenset[str]] = frozenset({"velocity"})

    def loss(self, ctx: TrainContext, chunk: LossChunk, rollout: Rollout) -> tuple[torch.Tensor, dict[str, float]]:
        t = chunk.tensors
        v = t.need("velocity")  # [R, C, h, w] with grad
        v_base = ctx.base_velocity(t.x, t.sigma, t.cond)  # [R, C, h, w] no grad
        term = (v.float() - v_base.float()).pow(2).mean()
        return term, {"reg/velocity_kl": float(term.detach())}
