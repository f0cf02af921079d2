"""DiffusionNFT, CoCoEdit's optimiser (docs/method.md §7): negative-aware fine-tuning on the final samples of θ_old.

Rollouts under θ_old keep only their final samples. Each sample is re-noised at a random subset of the rollout's own
σ grid with fresh noise, and the velocity of θ is trained towards the implicit positive policy on good samples and
away through the implicit negative one on bad samples, weighted by the optimality probability r.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from pydantic import Field

from editrl.advantages import group_advantages
from editrl.component import ComponentConfig
from editrl.interfaces import LossChunk, PolicyOptimizer, Rollout, TrainContext
from editrl.interfaces.optimizer import ChunkTensors
from editrl_cocoedit.objective import adaptive_loss, branch_predictions, kept_groups, noised, nft_rows, optimality
from editrl_cocoedit.old_policy import OLD_ADAPTER, OldDecay, old_decay


class DiffusionNftConfig(ComponentConfig):
    nft_beta: float = Field(1.0, gt=0.0, le=10.0)
    """β of the implicit policies v± (DiffusionNFT's `config.beta`, its "guidance strength"; not the KL weight)."""
    kl_coef: float = Field(1e-4, ge=0.0, le=10.0)
    """Weight of mean((v_θ − v_base)²) against the LoRA-free base editor (DiffusionNFT's `train.beta`); 0 skips the
    base forward."""
    adv_clip: float = Field(5.0, gt=0.0, le=100.0)
    """Advantages are clipped to ±adv_clip before r = 0.5 + A/(2·adv_clip); the policy loss is scaled by it (5)."""
    eps_std: float = Field(1e-4, gt=0.0, le=1.0)
    """Added to the global reward std when standardising (docs/method.md §1)."""
    timestep_fraction: float = Field(0.99, gt=0.0, le=1.0)
    """Each sample trains at int(K·fraction) (at least 1) of the rollout's K noise levels, its own random subset."""
    adaptive_weighting: bool = True
    """Divide each row's x̂_0 error by sg(mean|x̂_0 − x_0|) (the paper's adaptive weighting); false: plain MSE."""
    filter_std: float | None = Field(None, ge=0.0, le=100.0)
    """Drop groups whose reward std is ≤ this (CoCoEdit: 0.02 of raw rewards); null keeps all. The rewards here are
    the engine's total, each term standardised over the minibatch (docs/method.md §1), not CoCoEdit's raw sum."""
    filter_mean: float | None = None
    """Drop groups whose mean reward is ≥ this (CoCoEdit: 0.9 of raw rewards); null keeps all. Same scale caveat."""
    old_decay: OldDecay = "linear"
    """θ_old ← η·θ_old + (1 − η)·θ after each step: linear η = min(0.001·step, 0.5) (the paper's), delayed (η = 0
    before step 75, then min(0.0075·(step − 75), 0.999)) or on_policy (η = 0)."""
    micro_batch: int | None = Field(None, ge=1, le=65536)
    """Rows (sample × noise level) per loss chunk, so large editors never hold a whole step's graph; null = a
    chunk per noise-level slot with every kept sample."""


class DiffusionNft(PolicyOptimizer):
    """DiffusionNFT: r-weighted positive / negative implicit policies on re-noised final samples of θ_old."""

    name = "diffusion_nft"
    Config = DiffusionNftConfig
    config: DiffusionNftConfig
    needs_states: ClassVar[bool] = False
    needs_policy: ClassVar[bool] = False
    provides: ClassVar[frozenset[str]] = frozenset({"velocity", "x0", "x0_pos", "x0_neg", "optimality"})

    def __init__(self, config: DiffusionNftConfig) -> None:
        super().__init__(config)
        self._lora: Any = None
        self._kept: torch.Tensor | None = None  # [N, G] rows entering the loss, set by the last advantages() call

    # -- θ_old -------------------------------------------------------------------------------------------------
    def setup(self, ctx: TrainContext) -> None:
        """θ_old starts as a frozen copy of the trained adapter (a resume then restores it, load_state_dict)."""
        ctx.lora.add_frozen_copy(OLD_ADAPTER)
        self._lora = ctx.lora

    def rollout_weights(self, ctx: TrainContext) -> contextlib.AbstractContextManager:
        return ctx.lora.using(OLD_ADAPTER)

    def after_update(self, ctx: TrainContext, step: int) -> None:
        ctx.lora.blend_into(OLD_ADAPTER, old_decay(step, self.config.old_decay))

    def state_dict(self) -> dict[str, Any]:
        return {"old_adapter": self._lora.state_dict(OLD_ADAPTER)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._lora.load_state_dict(state["old_adapter"], adapter=OLD_ADAPTER)

    # -- the objective -----------------------------------------------------------------------------------------
    def advantages(self, rewards: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """1. group-centred rewards over the global std, clipped (§1, §7); 2. the rows entering the loss: those of
        groups the filters keep, scored by every reward (NaN marks a row a reward could not score); 3. stats."""
        cfg = self.config
        # step 1: a group whose rewards are all equal gets A = 0 (r = ½); one with < 2 scored rows is dead
        adv, dead = group_advantages(  # [N, G], [N]
            rewards, eps_std=cfg.eps_std, clip=cfg.adv_clip, std_scope="batch", min_group_std=0.0
        )
        # step 2
        groups = kept_groups(rewards, cfg.filter_std, cfg.filter_mean) & ~dead.to(rewards.device)  # [N]
        self._kept = groups[:, None] & torch.isfinite(rewards)  # [N, G]
        # step 3
        r = optimality(adv, cfg.adv_clip)[self._kept]  # [rows kept]
        return adv, {
            "adv/abs_mean": float(adv.abs().mean()),
            "adv/filtered_groups": float((~groups).sum()),
            "nft/r_mean": float(r.mean()) if r.numel() else 0.5,
            "nft/r_min": float(r.min()) if r.numel() else 0.5,
            "nft/r_max": float(r.max()) if r.numel() else 0.5,
        }

    def loss_chunks(self, ctx: TrainContext, rollout: Rollout, advantages: torch.Tensor) -> Iterator[LossChunk]:
        """One chunk per noise-level slot j (and micro-batch of rows):

        1. r per candidate; the candidates :meth:`advantages` kept (filtered groups and unscored rows leave);
        2. per candidate its own random ``int(K·timestep_fraction)`` of the rollout's K noise levels;
        3. per slot: fresh ε for every candidate, x_σ, v_old under θ_old (no grad), v_θ (grad), v_base if kl_coef;
        4. x̂±_0, the adaptive losses, ``adv_clip · mean(r·L⁺/β + (1 − r)·L⁻/β) + kl_coef · KL`` over kept rows.

        Nothing is yielded when the filters drop every group: the step then makes no update.
        """
        cfg, g = self.config, ctx.generator
        final = rollout.final  # [N, G, C, h, w]
        N, G = final.shape[:2]
        device = final.device
        x0_all = final.flatten(0, 1).float()  # [N·G, C, h, w]
        # step 1
        r_all = optimality(advantages.to(device).float(), cfg.adv_clip).flatten()  # [N·G]
        kept = self._kept if self._kept is not None and self._kept.shape == (N, G) else torch.ones(N, G).bool()
        kept_rows = torch.nonzero(kept.to(device).flatten()).flatten()  # [R_kept] indices into the N·G candidates
        # step 2: the rollout's own grid without its final 0
        levels = rollout.sigmas[:-1].to(device)  # [K]
        K = levels.shape[0]
        T = max(1, int(K * cfg.timestep_fraction))
        slots = torch.stack([torch.randperm(K, generator=g)[:T] for _ in range(N * G)]).to(device)  # [N·G, T]
        total_rows = kept_rows.shape[0] * T
        micro = cfg.micro_batch or max(1, kept_rows.shape[0])
        for j in range(T):
            # step 3: every candidate draws its noise, kept or not, so the RNG stream does not depend on the filters
            eps_all = torch.randn(x0_all.shape, generator=g).to(device)  # [N·G, C, h, w]
            for start in range(0, kept_rows.shape[0], micro):
                idx = kept_rows[start : start + micro]  # [R]
                yield self._chunk(ctx, rollout, idx // G, x0_all[idx], eps_all[idx], levels[slots[idx, j]],
                                  r_all[idx], idx.shape[0] / total_rows)

    def _chunk(
        self, ctx: TrainContext, rollout: Rollout, rows: torch.Tensor, x0: torch.Tensor, eps: torch.Tensor,
        sigma: torch.Tensor, r: torch.Tensor, share: float,
    ) -> LossChunk:
        """Steps 3–4 of :meth:`loss_chunks` for R rows: ``rows`` their example indices, ``x0, eps [R, C, h, w]``,
        ``sigma, r [R]``."""
        cfg = self.config
        x_sigma = noised(x0, eps, sigma)  # [R, C, h, w]
        cond = rollout.cond.index(rows)  # R rows
        with torch.no_grad(), ctx.lora.using(OLD_ADAPTER):
            v_old = ctx.backbone.velocity(x_sigma, sigma, cond).float()  # [R, C, h, w]
        v_theta = ctx.backbone.velocity(x_sigma, sigma, cond).float()  # [R, C, h, w] with grad
        # step 4
        x0_pos, x0_neg = branch_predictions(x_sigma, sigma, v_theta, v_old, cfg.nft_beta)  # [R, C, h, w] each
        loss_pos = adaptive_loss(x0_pos, x0, cfg.adaptive_weighting)  # [R]
        loss_neg = adaptive_loss(x0_neg, x0, cfg.adaptive_weighting)  # [R]
        policy = cfg.adv_clip * nft_rows(r, loss_pos, loss_neg, cfg.nft_beta).mean()
        loss = policy
        stats = {
            "nft/policy_loss": float(policy.detach()),
            "nft/loss_pos": float(loss_pos.detach().mean()),
            "nft/loss_neg": float(loss_neg.detach().mean()),
            "nft/sigma_mean": float(sigma.mean()),
        }
        if cfg.kl_coef > 0:
            v_base = ctx.base_velocity(x_sigma, sigma, cond).float()  # [R, C, h, w] no grad
            kl = (v_theta - v_base).pow(2).mean()
            loss = loss + cfg.kl_coef * kl
            stats["nft/kl"] = float(kl.detach())
        tensors = ChunkTensors(
            rows=rows, x=x_sigma, sigma=sigma, cond=cond, velocity=v_theta, x0=x0, x0_pos=x0_pos, x0_neg=x0_neg,
            optimality=r,
        )
        return LossChunk(loss=loss * share, share=share, tensors=tensors, stats=stats)
