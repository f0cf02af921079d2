"""Exploration schemes: how a group's G initial noises are drawn."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from pydantic import Field

from editrl.component import Component, ComponentConfig


@dataclass
class InitialNoise:
    x_T: torch.Tensor  # [N, G, C, h, w]
    reference: int | None  # index within the group of the unperturbed reference candidate, if the scheme has one
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def perturbed(self) -> list[int]:
        """Indices anchors may be drawn from (every candidate but the reference)."""
        G = self.x_T.shape[1]
        return [i for i in range(G) if i != self.reference]


class ExplorationConfig(ComponentConfig):
    group_size: int = Field(12, ge=2, le=256)
    """Candidates per group, G (a reference candidate, if any, counts)."""


class ExplorationScheme(Component):
    """Draws the initial noises of every group."""

    kind: ClassVar[str] = "exploration"
    Config: ClassVar[type[ExplorationConfig]] = ExplorationConfig
    #: Example fields this scheme needs (``{"mask"}`` for region-aware schemes).
    requires: ClassVar[frozenset[str]] = frozenset()

    @property
    def group_size(self) -> int:
        return self.config.group_size

    @property
    def mask_dilate(self) -> int:
        """Latent cells by which the engine dilates the edit mask, once per step, before this scheme, the surrogate
        policy and the attention token mask read it (0: the mask as converted)."""
        return 0

    @abstractmethod
    def sample(
        self,
        n: int,
        latent_shape: tuple[int, int, int],
        latent_mask: torch.Tensor | None,
        generator: torch.Generator,
    ) -> InitialNoise:
        """Draw ``[n, G, C, h, w]`` initial noises. ``latent_mask`` is ``[n, 1, h, w]`` (1 = edit, already dilated by
        :attr:`mask_dilate`) or None."""
