"""Rewards: score a batch of final samples. Each declares what it needs so the engine computes only that."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from pydantic import Field

from editrl.component import Component, ComponentConfig

#: Everything a reward may ask for. Example fields must be provided by the dataset, ``attention`` by the backbone.
REWARD_INPUTS = frozenset(
    {"images", "latents", "source", "mask", "target", "description", "instruction", "attention"}
)


@dataclass
class RewardInputs:
    """M rows, group-major (example n's candidates are rows n·G .. n·G+G−1). Unrequested fields are None."""

    tasks: list[str]
    images: torch.Tensor | None = None  # [M, 3, H, W] decoded samples in [0, 1]
    latents: torch.Tensor | None = None  # [M, C, h, w] final latents
    source: torch.Tensor | None = None  # [M, 3, H, W]
    mask: torch.Tensor | None = None  # [M, 1, H, W] 1 = edit
    target: torch.Tensor | None = None  # [M, 3, H, W]
    instructions: list[str] | None = None
    descriptions: list[str] | None = None
    attention: list[torch.Tensor] | None = None  # per (forward, layer): [M, n_img] text→target attention
    token_mask: torch.Tensor | None = None  # [M, n_img] 1 = edit token (with ``attention``)


@dataclass
class RewardOutput:
    values: torch.Tensor  # [M] float32, the reward used for training
    details: dict[str, torch.Tensor] = field(default_factory=dict)  # named [M] sub-scores, logged and evaluated
    counters: dict[str, float] = field(default_factory=dict)  # e.g. degenerate inputs seen

    def log(self, prefix: str) -> dict[str, float]:
        """Flat metric keys: ``prefix/mean`` and ``prefix/<detail>``."""
        out = {f"{prefix}/mean": float(self.values.float().mean())}
        out.update({f"{prefix}/{k}": float(v.float().mean()) for k, v in self.details.items()})
        out.update({f"{prefix}/{k}": float(v) for k, v in self.counters.items()})
        return out


class RewardConfig(ComponentConfig):
    weight: float = Field(1.0, ge=0.0)
    """Weight of this term in the total reward (each term is standardised over the minibatch first)."""


class Reward(Component):
    """Scores final samples; higher is better."""

    kind: ClassVar[str] = "reward"
    Config: ClassVar[type[RewardConfig]] = RewardConfig
    requires: ClassVar[frozenset[str]] = frozenset({"images"})

    @property
    def weight(self) -> float:
        return self.config.weight

    @property
    def attention_layers(self) -> int:
        """With ``"attention"`` in ``requires``: how many of the backbone's last attention layers to capture."""
        return 0

    def load(self, device: torch.device) -> None:
        """Load any model the reward uses (called once, before the first step)."""

    @abstractmethod
    def score(self, inputs: RewardInputs) -> RewardOutput:
        """Score M samples."""
