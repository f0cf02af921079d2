"""Surrogate leaping policies: a softmax over a group's candidates of a distance to an anchor's prediction."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch

from editrl.component import Component


class SurrogatePolicy(Component):
    """``log π(i | a, k)`` over the G candidates of a group (docs/method.md §3)."""

    kind: ClassVar[str] = "policy"
    #: Example fields this policy needs (``{"mask"}`` for region-aware distances).
    requires: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def log_probs(
        self, prediction: torch.Tensor, candidates: torch.Tensor, latent_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Log-probabilities of every candidate.

        Args:
            prediction: ``[N, B, C, h, w]`` each anchor's one-step prediction x̂_{k+1}.
            candidates: ``[N, G, C, h, w]`` the stored next states x_{k+1}^i of every candidate.
            latent_mask: ``[N, 1, h, w]`` (1 = edit) or None.

        Returns:
            ``[N, B, G]`` log-probabilities (each row sums to one after exp).
        """
