"""CoCoEdit's region regularisers on DiffusionNFT's two branches (docs/method.md §8).

The positive branch's clean prediction x̂⁺_0 must keep the non-edit region near an anchor (the source latent, or
the rollout sample), the negative branch's x̂⁻_0 must move the edit region away from the source; both are hinges on
a weighted latent MSE whose weights come from the eroded masks and a down-weighted boundary ring, as in CoCoEdit's
code. The latent mask is the backbone's pixel → latent conversion (``rollout.latent_mask``, max-pool, docs/method.md §0).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from editrl.interfaces import LossChunk, Regularizer, RegularizerConfig, Rollout, TrainContext

#: Floor of the weight sum in the weighted distance (CoCoEdit's code).
WEIGHT_SUM_FLOOR = 1e-6


class CocoEditRegionConfig(RegularizerConfig):
    lambda_ner: float = Field(0.02, ge=0.0, le=100.0)
    """λ_ner of the positive-branch non-edit-region term (CoCoEdit: 0.02 for Kontext, 0.8 for Qwen-Image-Edit)."""
    lambda_er: float = Field(0.02, ge=0.0, le=100.0)
    """λ_er of the negative-branch edit-region term (CoCoEdit: 0.02 for Kontext, 0.5 for Qwen-Image-Edit)."""
    tau_pos: float = Field(1e-3, ge=0.0, le=10.0)
    """τ⁺: the non-edit region may differ from its anchor by this latent MSE before the term acts (CoCoEdit: 1e-3)."""
    tau_neg: float = Field(3e-2, ge=0.0, le=10.0)
    """τ⁻: the negative branch's edit region is pushed until its latent MSE to the source reaches this (3e-2)."""
    ner_anchor: Literal["source", "sample"] = "source"
    """Anchor of the positive-branch term: the source latent (the paper's text) or the rollout sample x_0 (CoCoEdit's
    code)."""
    erode: int = Field(2, ge=0, le=16)
    """Erode both region masks by this many latent cells ((2·erode + 1)² window) before weighting (CoCoEdit: 2)."""
    ring_weight: float = Field(0.2, ge=0.0, le=1.0)
    """Weight of the boundary ring the erosion leaves (in both regions' weights; CoCoEdit: 0.2)."""


def erode(mask: torch.Tensor, cells: int) -> torch.Tensor:
    """``1 − maxpool(1 − m)`` over a (2·cells + 1)² window, ``[R, 1, h, w]``; outside the grid never erodes."""
    if cells == 0:
        return mask
    return 1 - F.max_pool2d(1 - mask, kernel_size=2 * cells + 1, stride=1, padding=cells)


def region_weights(latent_mask: torch.Tensor, cells: int, ring_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W_keep, W_edit)`` ``[R, 1, h, w]`` from a latent edit mask (1 = edit):

    ``ring = 1 − clamp(erode(keep) + erode(edit), 0, 1)``, ``W_keep = clamp(erode(keep) + ring_weight·ring, 0, 1)``,
    ``W_edit = clamp(erode(edit) + ring_weight·ring, 0, 1)``; without erosion the ring is empty and W = the masks.
    """
    edit = latent_mask.float()  # [R, 1, h, w]
    keep_core, edit_core = erode(1 - edit, cells), erode(edit, cells)  # [R, 1, h, w] each
    ring = 1 - (keep_core + edit_core).clamp(0, 1)  # [R, 1, h, w]
    return (keep_core + ring_weight * ring).clamp(0, 1), (edit_core + ring_weight * ring).clamp(0, 1)


def weighted_distance(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per row ``Σ W·(a − b)² / max(Σ W, 1e-6)`` with ``W [R, 1, h, w]`` broadcast over the C channels (so the
    denominator counts C·Σ_hw W): a weighted mean of the squared latent difference, ``[R]``."""
    w = weight.expand_as(a)  # [R, C, h, w]
    return (w * (a - b).pow(2)).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(WEIGHT_SUM_FLOOR)


class CocoEditRegion(Regularizer):
    """CoCoEdit: hinge terms keeping x̂⁺_0's background at its anchor and pushing x̂⁻_0's edit region off the source.

    Per row i (a sample at one noise level), with r_i its optimality probability:
    ``r_i·λ_ner·max(0, d_keep(x̂⁺_0) − τ⁺) + (1 − r_i)·λ_er·max(0, τ⁻ − d_edit(x̂⁻_0))``, averaged over the chunk's
    rows. Needs an optimiser that forms x̂±_0 (``diffusion_nft``); others are refused at validation.
    """

    name = "cocoedit_region"
    Config = CocoEditRegionConfig
    config: CocoEditRegionConfig
    requires: ClassVar[frozenset[str]] = frozenset(
        {"mask", "source_latents", "x0", "x0_pos", "x0_neg", "optimality"}
    )

    def loss(self, ctx: TrainContext, chunk: LossChunk, rollout: Rollout) -> tuple[torch.Tensor, dict[str, float]]:
        """1. the rows' masks and source latents; 2. region weights; 3. distances and hinges; 4. r-weighted mean."""
        cfg, t = self.config, chunk.tensors
        if rollout.latent_mask is None or rollout.source_latents is None:
            raise ValueError("cocoedit_region needs the rollout's latent_mask and source_latents (validation checks)")
        # step 1
        rows = t.rows.to(rollout.latent_mask.device)
        mask = rollout.latent_mask.index_select(0, rows)  # [R, 1, h, w]
        source = rollout.source_latents.index_select(0, rows).float()  # [R, C, h, w]
        x0_pos, x0_neg, r = t.need("x0_pos"), t.need("x0_neg"), t.need("optimality")  # [R, C, h, w] ×2, [R]
        anchor = source if cfg.ner_anchor == "source" else t.need("x0").float()  # [R, C, h, w]
        # step 2
        w_keep, w_edit = region_weights(mask, cfg.erode, cfg.ring_weight)  # [R, 1, h, w] each
        # step 3
        d_keep = weighted_distance(x0_pos, anchor, w_keep)  # [R]
        d_edit = weighted_distance(x0_neg, source, w_edit)  # [R]
        ner = (d_keep - cfg.tau_pos).clamp_min(0)  # [R]
        er = (cfg.tau_neg - d_edit).clamp_min(0)  # [R]
        # step 4
        term = (r * cfg.lambda_ner * ner + (1 - r) * cfg.lambda_er * er).mean()
        return term, {
            "reg/cocoedit_region": float(term.detach()),
            "reg/cocoedit_region/d_keep": float(d_keep.detach().mean()),
            "reg/cocoedit_region/d_edit": float(d_edit.detach().mean()),
            "reg/cocoedit_region/ner_active": float((ner > 0).float().mean()),
            "reg/cocoedit_region/er_active": float((er > 0).float().mean()),
        }
