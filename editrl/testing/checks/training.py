"""What optimiser and regulariser checks share: companions from the registry, and one training step's pieces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from editrl.component import Component
from editrl.interfaces import LossChunk, PolicyOptimizer, SurrogatePolicy, TrainContext
from editrl.testing.report import Contract
from editrl.testing.world import ToyWorld, WorldRollout

#: A companion as a check's caller may give it: an instance, a class (default config) or ``(class, config dict)``.
Companion = Component | type | tuple[type, dict[str, Any]] | None


def build_companion(spec: Companion) -> Component | None:
    """An instance from a :data:`Companion` spec."""
    if spec is None or isinstance(spec, Component):
        return spec
    cls, config = spec if isinstance(spec, tuple) else (spec, {})
    return cls(cls.Config(**config))


def pick_policy(contract: Contract, world: ToyWorld, spec: Companion) -> SurrogatePolicy:
    """``spec``, or the first registered policy whose needs the toy world meets."""
    if spec is not None:
        return contract.attempt("policy", build_companion, spec)
    for cls in world.registry.components("policy"):
        if cls.requires <= world.available:
            return cls(cls.Config())
    contract.fail("policy", "needs a surrogate policy and none is registered; pass policy=(PolicyClass, {...})")
    raise AssertionError  # pragma: no cover (fail raises)


def pick_optimizer(contract: Contract, world: ToyWorld, needs: frozenset[str], spec: Companion) -> PolicyOptimizer:
    """``spec``, or the first registered optimiser whose chunks fill the fields in ``needs`` (names of
    :data:`~editrl.interfaces.optimizer.CHUNK_FIELDS`) and whose own needs the toy world meets."""
    if spec is not None:
        return contract.attempt("optimizer", build_companion, spec)
    for cls in world.registry.components("optimizer"):
        if needs <= cls.provides and cls.requires <= world.available:
            return cls(cls.Config())
    contract.fail(
        "optimizer", f"no registered optimiser provides {sorted(needs)}; pass optimizer=(OptimizerClass, {{...}})"
    )
    raise AssertionError  # pragma: no cover (fail raises)


@dataclass
class Step:
    """One optimisation step on the toy world, up to the loss chunks (not yet back-propagated)."""

    ctx: TrainContext
    rolled: WorldRollout
    advantages: torch.Tensor  # [N, G]
    adv_stats: dict[str, float]


def prepare_step(
    contract: Contract,
    world: ToyWorld,
    optimizer: PolicyOptimizer,
    policy: Companion,
    needs: frozenset[str] = frozenset(),
) -> Step:
    """1. a train context (LoRA on a fresh backbone, a policy if the optimiser needs one); 2. ``setup``; 3. a rollout
    under the optimiser's θ_old weights, with what the optimiser and ``needs`` (a regulariser's) require;
    4. advantages of seeded rewards."""
    # step 1
    chosen = pick_policy(contract, world, policy) if optimizer.needs_policy else build_companion(policy)
    ctx = contract.attempt("train_context", world.train_context, policy=chosen)
    # step 2
    contract.attempt("setup", optimizer.setup, ctx)
    # step 3
    rolled = contract.attempt(
        "rollout", world.rollout, keep_states=optimizer.needs_states, backbone=ctx.backbone,
        weights=optimizer.rollout_weights(ctx), source_latents="source_latents" in optimizer.requires | needs,
    )
    # step 4
    adv, stats = contract.attempt("advantages", optimizer.advantages, seeded_rewards(world), ctx.generator)
    return Step(ctx=ctx, rolled=rolled, advantages=adv, adv_stats=stats)


def seeded_rewards(world: ToyWorld, seed: int = 0) -> torch.Tensor:
    """``[N, G]`` standard-normal rewards from a seeded generator (distinct within every group)."""
    return torch.randn(world.batch_size, world.group_size, generator=torch.Generator().manual_seed(seed))


def chunks_of(optimizer: PolicyOptimizer, step: Step) -> list[LossChunk]:
    """Every loss chunk of the step, with the run's generator reseeded first (so that calls can be compared)."""
    step.ctx.generator.manual_seed(0)
    return list(optimizer.loss_chunks(step.ctx, step.rolled.rollout, step.advantages))


def lora_grads(ctx: TrainContext) -> list[torch.Tensor]:
    """The gradients of the trained LoRA weights (zeros where none reached them)."""
    params = ctx.lora.trainable_parameters()
    return [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]


def zero_lora_grads(ctx: TrainContext) -> None:
    for p in ctx.lora.trainable_parameters():
        p.grad = None
