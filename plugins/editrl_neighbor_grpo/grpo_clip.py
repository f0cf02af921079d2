"""GRPO with a clipped surrogate objective over a leaping policy (docs/method.md §1, §3, §4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import torch
from pydantic import Field

from editrl.advantages import group_advantages
from editrl.component import ComponentConfig
from editrl.interfaces import LossChunk, PolicyOptimizer, Rollout, TrainContext
from editrl.interfaces.optimizer import ChunkTensors
from editrl_neighbor_grpo.policy import entropy


class GrpoClipConfig(ComponentConfig):
    anchors: int = Field(4, ge=1)
    """Anchors B per group, drawn without replacement from the perturbed candidates."""
    clip_eps: float = Field(0.2, gt=0, lt=1)
    """ε of the clipped ratio (PPO scale fits the softmax surrogate)."""
    adv_clip: float = Field(5.0, gt=0)
    """Advantages are clipped to ±adv_clip."""
    eps_std: float = Field(1e-4, gt=0)
    """Added to the group std when standardising rewards."""
    min_group_std: float = Field(1e-6, ge=0)
    """Groups whose reward std is below this contribute no gradient (counted in `adv/dead_groups`)."""
    train_fraction: float = Field(1.0, gt=0, le=1)
    """Fraction of the K solver steps trained per optimisation step (a random subset, shared by the batch)."""
    shuffle_advantages: bool = False
    """Control experiment: permute advantages within each group, so rewards carry no signal but compute is equal."""
    log_ratio_clamp: float = Field(10.0, gt=0)
    """The log-ratio is clamped to ±this before exp."""


def clipped_objective(log_ratio: torch.Tensor, advantages: torch.Tensor, clip_eps: float) -> torch.Tensor:
    """Per-element ``min(ρ·A, clip(ρ, 1−ε, 1+ε)·A)`` for broadcastable ``log_ratio`` and ``advantages``."""
    ratio = log_ratio.exp()
    return torch.minimum(ratio * advantages, ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages)


class GrpoClip(PolicyOptimizer):
    """GRPO-clip over the surrogate leaping policy: B anchors × trained steps, one recomputed solver step each."""

    name = "grpo_clip"
    Config = GrpoClipConfig
    needs_states: ClassVar[bool] = True
    needs_policy: ClassVar[bool] = True
    provides: ClassVar[frozenset[str]] = frozenset({"velocity"})

    def advantages(self, rewards: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """1. standardise within groups over their valid rows (NaN = a row a reward could not score) and clip (§1);
        2. optionally shuffle within groups (the control); invalid rows keep zero advantage."""
        cfg = self.config
        adv, dead = group_advantages(  # [N, G], [N]
            rewards, eps_std=cfg.eps_std, clip=cfg.adv_clip, std_scope="group", min_group_std=cfg.min_group_std
        )
        if cfg.shuffle_advantages:
            perm = torch.stack([torch.randperm(adv.shape[1], generator=generator) for _ in range(adv.shape[0])])
            adv = adv.gather(1, perm.to(adv.device)) * torch.isfinite(rewards)
        return adv, {"adv/dead_groups": float(dead.sum()), "adv/abs_mean": float(adv.abs().mean())}

    def _anchors(self, rollout: Rollout, generator: torch.Generator) -> torch.Tensor:
        """``[N, B]`` anchor indices per group, uniform without replacement over the perturbed candidates."""
        pool = torch.tensor(rollout.noise.perturbed)  # [P]
        B = min(self.config.anchors, len(pool))
        N = rollout.final.shape[0]
        picks = torch.stack([torch.randperm(len(pool), generator=generator)[:B] for _ in range(N)])
        return pool[picks]  # [N, B]

    def _trained_steps(self, K: int, generator: torch.Generator) -> list[int]:
        count = max(1, round(self.config.train_fraction * K))
        if count == K:
            return list(range(K))
        return sorted(torch.randperm(K, generator=generator)[:count].tolist())

    def loss_chunks(self, ctx: TrainContext, rollout: Rollout, advantages: torch.Tensor) -> Iterator[LossChunk]:
        """One chunk per trained step k:

        1. gather the anchors' stored states x_k^a and recompute one solver step under θ (with grad);
        2. log π_θ and log π_old (the stored x_{k+1}^a is θ_old's prediction) over all G candidates' x_{k+1};
        3. clipped objective against the group advantages, averaged over anchors, candidates and trained steps.
        """
        assert rollout.states is not None and ctx.policy is not None
        cfg = self.config
        states = rollout.states  # [K+1, N, G, C, h, w]
        N, G = rollout.final.shape[:2]
        anchors = self._anchors(rollout, ctx.generator).to(states.device)  # [N, B]
        B = anchors.shape[1]
        steps = self._trained_steps(len(rollout.sigmas) - 1, ctx.generator)
        cond = rollout.cond.repeat_interleave(B)  # N·B rows
        sigmas = rollout.sigmas.tolist()
        A = advantages[:, None, :].to(states.device)  # [N, 1, G]
        pick = lambda s: s.gather(1, anchors.view(N, B, 1, 1, 1).expand(-1, -1, *s.shape[2:]))  # noqa: E731
        for k in steps:
            # step 1: x_k^a → x̂_{k+1}^a(θ)
            x_k = pick(states[k]).flatten(0, 1)  # [N·B, C, h, w]
            captured: list[torch.Tensor] = []

            def velocity(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
                v = ctx.backbone.velocity(x, s, cond)
                captured.append(v)  # v_θ at the anchor state, for regularisers
                return v

            pred = ctx.solver.step(velocity, x_k, sigmas[k], sigmas[k + 1]).view(N, B, *x_k.shape[1:])
            # step 2: the surrogate policy's log-probabilities under θ and θ_old
            candidates = states[k + 1]  # [N, G, C, h, w]
            logp = ctx.policy.log_probs(pred, candidates, rollout.latent_mask)  # [N, B, G]
            with torch.no_grad():
                logp_old = ctx.policy.log_probs(pick(states[k + 1]), candidates, rollout.latent_mask)
            log_ratio = (logp - logp_old).clamp(-cfg.log_ratio_clamp, cfg.log_ratio_clamp)  # [N, B, G]
            # step 3: clipped objective
            objective = clipped_objective(log_ratio, A, cfg.clip_eps)  # [N, B, G]
            share = 1.0 / len(steps)
            with torch.no_grad():
                ratio = log_ratio.exp()
                stats = {
                    "policy/clipfrac": float(((ratio - 1).abs() > cfg.clip_eps).float().mean()),
                    "policy/approx_kl": float((ratio - 1 - log_ratio).mean()),
                    "policy/entropy": float(entropy(logp).mean()),
                    "policy/ratio_min": float(ratio.min()),
                    "policy/ratio_max": float(ratio.max()),
                }
            sigma_rows = torch.full((x_k.shape[0],), sigmas[k], device=x_k.device)  # [N·B]
            rows = torch.arange(N, device=x_k.device).repeat_interleave(B)  # [N·B] example of each anchor row
            yield LossChunk(
                loss=-objective.mean() * share,
                share=share,
                tensors=ChunkTensors(rows=rows, x=x_k, sigma=sigma_rows, cond=cond, velocity=captured[0]),
                stats=stats,
            )
