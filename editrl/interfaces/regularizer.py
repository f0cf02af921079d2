"""Regularisers: extra loss terms computed from an optimiser's loss chunk.

A regulariser reads the chunk's :class:`~editrl.interfaces.optimizer.ChunkTensors` (rows → example index, x_σ, σ,
condition, and the optional fields an optimiser ``provides``) and, through ``chunk.tensors.rows``, the per-example
tensors of the rollout (``latent_mask``, ``source_latents``).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch
from pydantic import Field

from editrl.component import Component, ComponentConfig
from editrl.interfaces.optimizer import LossChunk, Rollout, TrainContext


class RegularizerConfig(ComponentConfig):
    coef: float = Field(1.0, ge=0.0)
    """Multiplier of this term."""


class Regularizer(Component):
    """A loss term added to each chunk, scaled by the chunk's share and ``coef``."""

    kind: ClassVar[str] = "regularizer"
    Config: ClassVar[type[RegularizerConfig]] = RegularizerConfig
    #: Chunk fields it reads (``CHUNK_FIELDS``: refused at validation unless the optimiser ``provides`` them), and
    #: example or engine fields (``mask``, ``source_latents``, ...; see ``editrl.requirements``)
    requires: ClassVar[frozenset[str]] = frozenset()

    @property
    def coef(self) -> float:
        return self.config.coef

    @abstractmethod
    def loss(self, ctx: TrainContext, chunk: LossChunk, rollout: Rollout) -> tuple[torch.Tensor, dict[str, float]]:
        """Unscaled term for this chunk (the engine multiplies by ``coef`` and the chunk's share) and stats."""
