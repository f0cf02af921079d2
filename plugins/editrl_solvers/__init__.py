"""Deterministic flow-ODE solvers: Euler (what the diffusers editors ship) and Heun (second order)."""

from __future__ import annotations

import torch

from editrl import hookimpl
from editrl.interfaces import Solver, VelocityFn


def _sigma_rows(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.full((x.shape[0],), sigma, dtype=torch.float32, device=x.device)  # [M]


class Euler(Solver):
    """First-order Euler: x_{k+1} = x_k + (σ_{k+1} − σ_k)·v(x_k, σ_k). One velocity call per step."""

    name = "euler"

    def step(self, velocity: VelocityFn, x: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
        v = velocity(x, _sigma_rows(x, sigma))
        return x + (sigma_next - sigma) * v


class Heun(Solver):
    """Second-order Heun: an Euler predictor, then the average of both slopes. Two velocity calls per step,
    except the last step into σ = 0, which is Euler (the slope at σ = 0 is not evaluated)."""

    name = "heun"

    def step(self, velocity: VelocityFn, x: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
        v = velocity(x, _sigma_rows(x, sigma))
        x_pred = x + (sigma_next - sigma) * v
        if sigma_next == 0:
            return x_pred
        v_next = velocity(x_pred, _sigma_rows(x, sigma_next))
        return x + (sigma_next - sigma) * 0.5 * (v + v_next)


@hookimpl
def editrl_register_components(registry):
    registry.add(Euler)
    registry.add(Heun)
