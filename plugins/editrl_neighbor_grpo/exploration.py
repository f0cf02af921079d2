"""Initial-noise exploration schemes: iid noise and Neighbor GRPO's global neighbourhood (docs/method.md §2.1, §2.2).

All randomness comes from the ``generator`` handed to ``sample`` (the run's checkpointed RNG), so the same generator
state gives the same noises; the global torch RNG is never touched. Noise is drawn in float32 on the generator's
device.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from editrl.interfaces import ExplorationConfig, ExplorationScheme, InitialNoise


def neighbourhood(
    base: torch.Tensor, S: torch.Tensor, G: int, generator: torch.Generator, reference: bool
) -> torch.Tensor:
    """Variance-preserving perturbations of one base noise per group, with element-wise strength ``S``.

    ``x^i = sqrt(1 − S⊙S) ⊙ base + S ⊙ ε^i`` with ``ε^i ~ N(0, I)`` iid. With ``reference=True`` candidate 0 is
    ``base`` itself and candidates 1..G−1 are perturbed (RDP, docs/method.md §2.3); otherwise all G are perturbed (global
    neighbourhood, §2.2, where ``S`` is the scalar σ). If ``base ~ N(0, I)`` every candidate is marginally N(0, I),
    two perturbed candidates have per-element correlation ``1 − S²`` and E‖Δ‖² = 2S² per element, and the reference
    and a perturbed candidate have correlation ``sqrt(1 − S²)``.

    Args:
        base: ``[N, C, h, w]`` the base noise x_T^* of each group.
        S: perturbation strength in [0, 1], broadcastable to ``[N, C, h, w]`` (a scalar tensor, or ``[N, 1, h, w]``
            from a latent mask as ``σ_in·M + σ_out·(1 − M)``).
        G: candidates per group, the reference included.
        generator: source of ε, on the device the noise is drawn on.
        reference: keep an unperturbed copy of ``base`` at index 0.

    Returns:
        ``[N, G, C, h, w]`` initial noises, in ``base``'s dtype and device.
    """
    if G < 1 + int(reference):
        raise ValueError(f"a neighbourhood needs G >= {1 + int(reference)} candidates, got {G}")
    S = torch.as_tensor(S, dtype=torch.float32, device=base.device)
    if bool((S < 0).any()) or bool((S > 1).any()):
        raise ValueError("perturbation strength S must lie in [0, 1] (variance preservation needs sqrt(1 − S²))")
    dtype = torch.promote_types(base.dtype, torch.float32)  # mix in at least float32
    n_perturbed = G - int(reference)
    eps = torch.randn(
        (base.shape[0], n_perturbed, *base.shape[1:]), generator=generator, device=generator.device
    ).to(device=base.device, dtype=dtype)  # [N, G − ref, C, h, w]
    S = S.to(dtype).expand_as(base).unsqueeze(1)  # [N, 1, C, h, w]
    centre = base.to(dtype).unsqueeze(1)  # [N, 1, C, h, w]
    perturbed = torch.sqrt(1.0 - S * S) * centre + S * eps  # [N, G − ref, C, h, w]
    if reference:
        perturbed = torch.cat([centre, perturbed], dim=1)  # [N, G, C, h, w], the reference first
    return perturbed.to(base.dtype)


def mean_pairwise_msd(x: torch.Tensor) -> float:
    """Mean over groups and ordered candidate pairs i ≠ j of the per-element mean squared distance.

    Uses ``Σ_{i≠j} ‖x^i − x^j‖² = 2G · Σ_i ‖x^i − x̄‖²`` (x̄ the group mean), which needs no G×G matrix and does not
    cancel. Expected value for iid N(0, I) noise: 2; for a global neighbourhood: 2σ².

    Args:
        x: ``[N, G, C, h, w]`` candidates.
    """
    n, g = x.shape[:2]
    flat = x.float().reshape(n, g, -1)  # [N, G, D]
    spread = (flat - flat.mean(dim=1, keepdim=True)).square().sum(dim=(1, 2))  # [N] Σ_i ‖x^i − x̄‖²
    per_pair = 2.0 * spread / ((g - 1) * flat.shape[2])  # [N]: 2G·spread / (G(G−1) pairs · D elements)
    return float(per_pair.mean())


class IidNoise(ExplorationScheme):
    """Independent N(0, I) initial noise for every candidate (plain GRPO / DiffusionNFT sampling, docs/method.md §2.1)."""

    name = "iid"

    def sample(
        self,
        n: int,
        latent_shape: tuple[int, int, int],
        latent_mask: torch.Tensor | None,
        generator: torch.Generator,
    ) -> InitialNoise:
        x_T = torch.randn((n, self.group_size, *latent_shape), generator=generator, device=generator.device)
        return InitialNoise(x_T=x_T, reference=None, stats={"pairwise_msd": mean_pairwise_msd(x_T)})


class GlobalNeighborhoodConfig(ExplorationConfig):
    sigma: float = Field(0.3, gt=0.0, le=1.0)
    """Perturbation strength σ: x_T^i = sqrt(1 − σ²)·x* + σ·ε^i. Neighbor GRPO's default 0.3; 1 gives iid noise."""


class GlobalNeighborhood(ExplorationScheme):
    """Neighbor GRPO: G variance-preserving perturbations of one base noise per group, no reference (docs/method.md §2.2)."""

    name = "global_neighborhood"
    Config: ClassVar[type[GlobalNeighborhoodConfig]] = GlobalNeighborhoodConfig

    def sample(
        self,
        n: int,
        latent_shape: tuple[int, int, int],
        latent_mask: torch.Tensor | None,
        generator: torch.Generator,
    ) -> InitialNoise:
        base = torch.randn((n, *latent_shape), generator=generator, device=generator.device)  # [N, C, h, w]
        S = torch.tensor(self.config.sigma, device=base.device)  # scalar, broadcast over every element
        x_T = neighbourhood(base, S, self.group_size, generator, reference=False)  # [N, G, C, h, w]
        return InitialNoise(x_T=x_T, reference=None, stats={"pairwise_msd": mean_pairwise_msd(x_T)})
