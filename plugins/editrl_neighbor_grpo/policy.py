"""Surrogate leaping policies: a softmax over a group's G candidates of a distance to an anchor's prediction.

``log π(i | a, k) = log_softmax_i( −½ · d(i) )`` over every candidate i of the group, the reference included
(docs/method.md §3 steps 4–5). Two distances:

* ``euclidean`` (Neighbor GRPO): ``d(i) = mean_elements((x_{k+1}^i − x̂^{(a)})²) / τ²``.
* ``masked`` (RC-GRPO Scheme B, region-normalised):
  ``d_M(i) = ‖M⊙Δ_i‖² / (τ_in²·n_in) + ‖(1 − M)⊙Δ_i‖² / (τ_out²·n_out)``, ``Δ_i = x_{k+1}^i − x̂^{(a)}``, with n the
  number of latent elements (channels included) of each region; a region with no elements drops its term.

Bandwidth (docs/method.md §3.1): ``fixed`` uses the configured τ at every step (the masked policy's default). ``median``
sets τ² per (group, step[, region]) to the **median over the G(G−1)/2 unordered candidate pairs i < j of the
per-element mean squared distance between the candidates' stored next states**,
``median_{i<j} mean_{elements ∈ region}((x_{k+1}^i − x_{k+1}^j)²)`` — the usual median (the mean of the two middle
values for an even number of pairs), computed without gradient from the candidates only, so θ and θ_old see the same
τ² and the ratio stays exactly 1 at θ = θ_old — floored at ``median_floor`` so identical candidates never divide by
zero. Typical candidate–candidate distances then give d ≈ 1 at every step, where a fixed τ makes the softmax one-hot at
some steps and flat at others.

Distances are computed in float32 whatever the storage dtype.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field

from editrl.component import ComponentConfig
from editrl.interfaces import SurrogatePolicy

Bandwidth = Literal["fixed", "median"]


# -- distances -------------------------------------------------------------------------------------------------------
def region_mean(values: torch.Tensor, region: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` over the latent elements of a region, per leading index.

    ``Σ region ⊙ values / (C · Σ_{h,w} region)``: the element count includes channels. A region with no elements
    gives 0 (so a distance term over it drops out) with finite gradients. ``region`` is a binary latent mask; a soft
    one weighs elements linearly.

    Args:
        values: ``[N, *, C, h, w]`` (e.g. squared differences).
        region: ``[N, 1, h, w]`` weights, or None for every element.

    Returns:
        ``[N, *]`` float32.
    """
    values = values.float()
    if region is None:
        return values.flatten(-3).mean(dim=-1)  # [N, *]
    n, c = values.shape[0], values.shape[-3]
    middle = values.ndim - 4  # axes between N and C
    weight = region.float().reshape(n, *([1] * middle), 1, *region.shape[-2:])  # [N, 1.., 1, h, w]
    total = (weight * values).flatten(-3).sum(dim=-1)  # [N, *]
    count = c * weight.flatten(-3).sum(dim=-1)  # [N, 1..] elements of the region
    safe = torch.where(count > 0, count, torch.ones_like(count))
    return torch.where(count > 0, total / safe, torch.zeros_like(total))


def _differences(prediction: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``Δ = x_{k+1}^i − x̂^{(a)}`` for every (anchor, candidate): ``[N, B, C, h, w]``, ``[N, G, C, h, w]`` →
    ``[N, B, G, C, h, w]`` in float32."""
    if prediction.ndim != 5 or candidates.ndim != 5:
        raise ValueError(
            f"prediction must be [N, B, C, h, w] and candidates [N, G, C, h, w], got {tuple(prediction.shape)} "
            f"and {tuple(candidates.shape)}"
        )
    if prediction.shape[0] != candidates.shape[0] or prediction.shape[2:] != candidates.shape[2:]:
        raise ValueError(f"prediction {tuple(prediction.shape)} and candidates {tuple(candidates.shape)} disagree")
    return candidates.float().unsqueeze(1) - prediction.float().unsqueeze(2)  # [N, 1, G, ..] − [N, B, 1, ..]


def euclidean_distance(
    prediction: torch.Tensor, candidates: torch.Tensor, tau_sq: torch.Tensor | float
) -> torch.Tensor:
    """Neighbor GRPO's ``d(i) = mean_elements((x_{k+1}^i − x̂^{(a)})²) / τ²``.

    Args:
        prediction: ``[N, B, C, h, w]`` anchor predictions x̂^{(a)}.
        candidates: ``[N, G, C, h, w]`` stored next states x_{k+1}^i.
        tau_sq: τ², a float or ``[N]`` (one per group).

    Returns:
        ``[N, B, G]`` float32 distances.
    """
    msd = region_mean(_differences(prediction, candidates).square(), None)  # [N, B, G]
    return msd / _per_group(tau_sq, msd)


def masked_distance(
    prediction: torch.Tensor,
    candidates: torch.Tensor,
    mask: torch.Tensor,
    tau_in_sq: torch.Tensor | float,
    tau_out_sq: torch.Tensor | float,
) -> torch.Tensor:
    """RC-GRPO's region-normalised distance (docs/method.md §3 Scheme B).

    ``d_M(i) = ‖M⊙Δ_i‖² / (τ_in²·n_in) + ‖(1 − M)⊙Δ_i‖² / (τ_out²·n_out)`` with ``n_in = C·Σ M`` and
    ``n_out = C·Σ (1 − M)`` latent elements; a region with no elements (empty or full mask) drops its term.

    Args:
        prediction: ``[N, B, C, h, w]`` anchor predictions x̂^{(a)}.
        candidates: ``[N, G, C, h, w]`` stored next states x_{k+1}^i.
        mask: ``[N, 1, h, w]`` latent mask, 1 = edit.
        tau_in_sq: τ_in², a float or ``[N]``.
        tau_out_sq: τ_out², a float or ``[N]``.

    Returns:
        ``[N, B, G]`` float32 distances.
    """
    _check_mask(mask, candidates)
    sq = _differences(prediction, candidates).square()  # [N, B, G, C, h, w]
    inside = region_mean(sq, mask)  # [N, B, G] = ‖M⊙Δ‖² / n_in
    outside = region_mean(sq, 1.0 - mask.float())  # [N, B, G] = ‖(1 − M)⊙Δ‖² / n_out
    return inside / _per_group(tau_in_sq, inside) + outside / _per_group(tau_out_sq, outside)


def pairwise_candidate_msd(candidates: torch.Tensor, region: torch.Tensor | None = None) -> torch.Tensor:
    """Per-element mean squared distance between every unordered pair of candidates, over a region.

    Args:
        candidates: ``[N, G, C, h, w]``.
        region: ``[N, 1, h, w]`` or None for every element.

    Returns:
        ``[N, G(G−1)/2]`` float32, pairs in ``torch.triu_indices(G, G, 1)`` order: (0,1), (0,2), .., (G−2,G−1).
    """
    g = candidates.shape[1]
    x = candidates.detach().float()
    # One candidate against all later ones at a time: memory [N, G, C, h, w], never [N, G, G, C, h, w].
    rows = [region_mean((x[:, i + 1 :] - x[:, i : i + 1]).square(), region) for i in range(g - 1)]  # [N, G−1−i] each
    return torch.cat(rows, dim=1)  # [N, G(G−1)/2]


def median_bandwidth_sq(candidates: torch.Tensor, region: torch.Tensor | None, floor: float) -> torch.Tensor:
    """τ² per group: the median over candidate pairs i < j of :func:`pairwise_candidate_msd`, at least ``floor``.

    The mean of the two middle values when the number of pairs is even. Detached.

    Args:
        candidates: ``[N, G, C, h, w]`` the candidates' stored next states.
        region: ``[N, 1, h, w]`` or None for every element.
        floor: lower bound of τ² (an empty region or identical candidates give 0 distances).

    Returns:
        ``[N]`` float32.
    """
    with torch.no_grad():
        pairs = pairwise_candidate_msd(candidates, region)  # [N, G(G−1)/2]
        return torch.quantile(pairs, 0.5, dim=1).clamp_min(floor)  # [N]


def entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """Entropy ``−Σ_i π_i log π_i`` over the last axis (nats): ``[..., G]`` → ``[...]``. Zero-probability entries
    contribute 0. Uniform over G gives log G; one-hot gives 0."""
    finite = log_probs.clamp_min(torch.finfo(log_probs.dtype).min)  # −inf → a finite number, multiplied by p = 0
    return -(log_probs.exp() * finite).sum(dim=-1)


def _per_group(tau_sq: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """τ² as a float or ``[N]`` → broadcastable to ``like [N, B, G]``."""
    tau_sq = torch.as_tensor(tau_sq, dtype=torch.float32, device=like.device)
    return tau_sq.reshape(-1, 1, 1) if tau_sq.ndim == 1 else tau_sq  # [N, 1, 1] or a scalar


def _check_mask(mask: torch.Tensor | None, candidates: torch.Tensor) -> torch.Tensor:
    if mask is None:
        raise ValueError("the masked policy needs a latent mask (the dataset must provide masks)")
    expected = (candidates.shape[0], 1, *candidates.shape[-2:])
    if tuple(mask.shape) != expected:
        raise ValueError(f"latent mask must be [N, 1, h, w] = {expected}, got {tuple(mask.shape)}")
    return mask


# -- policies --------------------------------------------------------------------------------------------------------
class BandwidthConfig(ComponentConfig):
    bandwidth: Bandwidth = "median"
    """``median``: τ² per (group, step[, region]) is the median pairwise distance among the candidates' next states
    (the τ fields are then unused); ``fixed``: the configured τ at every step."""
    median_floor: float = Field(1e-8, gt=0.0, le=1.0)
    """Lower bound of a median τ², so that identical candidates or an empty region never divide by zero."""


class EuclideanPolicyConfig(BandwidthConfig):
    tau: float = Field(0.4, gt=0.0, le=100.0)
    """τ of ``bandwidth: fixed``. 0.4 ≈ sqrt(2)·0.3 puts d ≈ 1 between two candidates of a σ = 0.3 neighbourhood at
    the first step only; distances shrink along the trajectory, hence the median default."""


class EuclideanPolicy(SurrogatePolicy):
    """Neighbor GRPO's leaping policy: softmax of −½·mean squared distance / τ² to the anchor's prediction."""

    name = "euclidean"
    Config: ClassVar[type[EuclideanPolicyConfig]] = EuclideanPolicyConfig

    def bandwidth_sq(self, candidates: torch.Tensor) -> torch.Tensor:
        """τ² per group, ``[N]`` (the median of the candidates' pairwise distances, or τ² repeated)."""
        if self.config.bandwidth == "median":
            return median_bandwidth_sq(candidates, None, self.config.median_floor)
        return torch.full((candidates.shape[0],), self.config.tau**2, device=candidates.device)

    def log_probs(
        self, prediction: torch.Tensor, candidates: torch.Tensor, latent_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``[N, B, C, h, w]``, ``[N, G, C, h, w]`` → ``[N, B, G]`` log π; the mask is not used."""
        d = euclidean_distance(prediction, candidates, self.bandwidth_sq(candidates))  # [N, B, G]
        return torch.log_softmax(-0.5 * d, dim=-1)


class MaskedPolicyConfig(BandwidthConfig):
    bandwidth: Bandwidth = "fixed"
    """``fixed`` (default): the configured τ_in, τ_out at every step, so their ratio sets how much the background
    counts. ``median``: τ² per (group, step, region) from the candidates' own spread in that region. Under RDP the
    background barely differs between candidates, so the per-region median scales those tiny differences up to the
    edit region's weight; on the toy that makes the editor copy its source (benchmarks/results/toy_rdp_bandwidth.md)."""
    tau_in: float = Field(0.4, gt=0.0, le=100.0)
    """τ_in of ``bandwidth: fixed``, the edit region's bandwidth. 0.4 ≈ sqrt(2)·σ_in for σ_in = 0.3 (d ≈ 1 between
    candidates at the first step); scale it with σ_in."""
    tau_out: float = Field(0.13, gt=0.0, le=100.0)
    """τ_out of ``bandwidth: fixed``, the background's bandwidth. Smaller → the background dominates the ranking
    (≈ sqrt(2)·σ_out = 0.03 made the toy copy its source); larger → the ranking ignores it and the background drifts.
    τ_out/τ_in ≈ 1/3: on the toy, 1.4 / 0.45 at σ_in = 1.0 kept the background at the base editor's PSNR, and
    0.4 / 0.13 at σ_in = 0.3 let it drift by 1.9 dB (toy_rdp_bandwidth.md)."""


class MaskedPolicy(SurrogatePolicy):
    """RC-GRPO's region-normalised leaping policy: edit and background distances each per element, own bandwidth."""

    name = "masked"
    Config: ClassVar[type[MaskedPolicyConfig]] = MaskedPolicyConfig
    requires: ClassVar[frozenset[str]] = frozenset({"mask"})

    def bandwidth_sq(self, candidates: torch.Tensor, latent_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(τ_in² [N], τ_out² [N])`` per group: per-region medians, or the configured values repeated."""
        _check_mask(latent_mask, candidates)
        if self.config.bandwidth == "median":
            floor = self.config.median_floor
            inside = median_bandwidth_sq(candidates, latent_mask, floor)
            outside = median_bandwidth_sq(candidates, 1.0 - latent_mask.float(), floor)
            return inside, outside
        n = candidates.shape[0]
        return (
            torch.full((n,), self.config.tau_in**2, device=candidates.device),
            torch.full((n,), self.config.tau_out**2, device=candidates.device),
        )

    def log_probs(
        self, prediction: torch.Tensor, candidates: torch.Tensor, latent_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``[N, B, C, h, w]``, ``[N, G, C, h, w]``, mask ``[N, 1, h, w]`` → ``[N, B, G]`` log π."""
        mask = _check_mask(latent_mask, candidates)
        tau_in_sq, tau_out_sq = self.bandwidth_sq(candidates, mask)
        d = masked_distance(prediction, candidates, mask, tau_in_sq, tau_out_sq)  # [N, B, G]
        return torch.log_softmax(-0.5 * d, dim=-1)
