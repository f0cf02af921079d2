"""Region-Decoupled Perturbation (RC-GRPO Eq. 10–11, docs/method.md §2.3)."""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field, model_validator

from editrl.interfaces import ExplorationConfig, ExplorationScheme, InitialNoise
from editrl_neighbor_grpo.exploration import mean_pairwise_msd, neighbourhood


class RdpConfig(ExplorationConfig):
    sigma_in: float = Field(0.3, gt=0.0, le=1.0)
    """Perturbation strength inside the edit region (editrl's starting point; the paper's value is not public)."""
    sigma_out: float = Field(0.02, ge=0.0, le=1.0)
    """Perturbation strength in the non-edit region (the seed's δ); small, so candidates share their background."""
    mask_dilate: int = Field(0, ge=0, le=16)
    """Dilate the latent edit mask by this many cells. The engine dilates it once per step, so the noise's
    coefficient map, the masked policy's regions and ACD's token mask all use the same widened mask."""

    @model_validator(mode="after")
    def _ordered(self) -> RdpConfig:
        if self.sigma_out > self.sigma_in:
            raise ValueError(f"sigma_out ({self.sigma_out}) must not exceed sigma_in ({self.sigma_in})")
        return self


def coefficient_map(latent_mask: torch.Tensor, sigma_in: float, sigma_out: float) -> torch.Tensor:
    """``S = σ_in·M + σ_out·(1 − M)`` from a latent mask ``[N, 1, h, w]`` (1 = edit; the engine has dilated it)."""
    mask = latent_mask.float()  # [N, 1, h, w]
    return sigma_in * mask + sigma_out * (1.0 - mask)  # [N, 1, h, w]


class RegionDecoupledPerturbation(ExplorationScheme):
    """RDP: strong perturbation inside the edit mask, weak outside, and the unperturbed base noise as candidate 0.

    Every candidate stays marginally N(0, I); two perturbed candidates' backgrounds have correlation 1 − σ_out².
    Anchors are drawn from the perturbed candidates only. An empty mask degenerates to a global neighbourhood with
    σ_out, a full mask to one with σ_in: both are counted (``empty_masks``, ``full_masks``), never an error.
    """

    name = "rdp"
    Config: ClassVar[type[RdpConfig]] = RdpConfig
    requires: ClassVar[frozenset[str]] = frozenset({"mask"})

    @property
    def mask_dilate(self) -> int:
        """The recipe's ``mask_dilate``: the engine widens the one latent mask every consumer reads."""
        return self.config.mask_dilate

    def sample(
        self,
        n: int,
        latent_shape: tuple[int, int, int],
        latent_mask: torch.Tensor | None,
        generator: torch.Generator,
    ) -> InitialNoise:
        if latent_mask is None:
            raise ValueError("rdp exploration needs edit masks; this batch has none")
        cfg = self.config
        base = torch.randn((n, *latent_shape), generator=generator, device=generator.device)  # [N, C, h, w]
        S = coefficient_map(latent_mask.to(base.device), cfg.sigma_in, cfg.sigma_out)  # [N, 1, h, w]
        x_T = neighbourhood(base, S, self.group_size, generator, reference=True)  # [N, G, C, h, w], ref at 0
        area = latent_mask.flatten(1).float().mean(1)  # [N] edit fraction
        stats = {
            "pairwise_msd": mean_pairwise_msd(x_T[:, 1:]),
            "empty_masks": float((area == 0).sum()),
            "full_masks": float((area == 1).sum()),
        }
        return InitialNoise(x_T=x_T, reference=0, stats=stats)
