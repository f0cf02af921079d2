"""Deterministic ODE solvers for the rectified flow, σ decreasing to 0."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import ClassVar

import torch
from pydantic import Field

from editrl.component import Component, ComponentConfig

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x [M, ...], sigma [M]) -> v [M, ...]


class SolverConfig(ComponentConfig):
    steps: int = Field(8, ge=1, le=1000)
    """Solver steps K of a rollout (and of evaluation sampling)."""


class Solver(Component):
    """One deterministic step ``x_k → x_{k+1}`` of the probability-flow ODE."""

    kind: ClassVar[str] = "solver"
    Config: ClassVar[type[SolverConfig]] = SolverConfig

    @property
    def steps(self) -> int:
        return self.config.steps

    @abstractmethod
    def step(self, velocity: VelocityFn, x: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
        """Advance ``x [M, ...]`` from ``sigma`` to ``sigma_next``."""
