"""The regulariser contract: a finite, differentiable scalar term per loss chunk, deterministic."""

from __future__ import annotations

from typing import Any

import torch

from editrl.interfaces import Regularizer
from editrl.interfaces.optimizer import CHUNK_FIELDS
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_stats, finite_tensor,
)
from editrl.testing.checks.training import (
    Companion, chunks_of, lora_grads, pick_optimizer, prepare_step, zero_lora_grads,
)
from editrl.testing.report import Contract
from editrl.testing.world import ToyWorld, default_world


def check_regularizer(
    cls: type[Regularizer],
    config: dict[str, Any] | None = None,
    *,
    world: ToyWorld | None = None,
    optimizer: Companion = None,
    policy: Companion = None,
) -> list[str]:
    """Check a regulariser; raise :class:`~editrl.testing.ContractError` or return the passed checks.

    1. the class implements :class:`~editrl.interfaces.Regularizer`; config and ``requires`` as for every kind (its
       names may also be loss-chunk fields, :data:`~editrl.interfaces.optimizer.CHUNK_FIELDS`); ``coef`` ≥ 0;
    2. the loss chunks of ``optimizer`` (default: the first registered optimiser providing the chunk fields the term
       requires) on a toy-world step whose rollout carries what the term requires;
    3. ``loss`` on each chunk: a finite scalar with a graph and finite stats; back-propagated with the chunk, finite
       LoRA gradients;
    4. two calls on the same chunk agree exactly whatever the global RNGs do, and no global RNG moves.
    """
    world = world or default_world()
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, Regularizer)
        settings = check_config(contract, cls, config)
        requires = check_requires(contract, cls)
        term = contract.attempt("construct", cls, settings)
        contract.expect("coef", float(term.coef) >= 0, f"coef is {term.coef!r}")
        # step 2
        opt = pick_optimizer(contract, world, requires & CHUNK_FIELDS, optimizer)
        step = prepare_step(contract, world, opt, policy, requires)
        chunks = contract.attempt("chunks", chunks_of, opt, step)
        zero_lora_grads(step.ctx)
        for i, chunk in enumerate(chunks):
            # step 4
            def run(chunk=chunk):
                step.ctx.generator.manual_seed(0)
                value, stats = term.loss(step.ctx, chunk, step.rolled.rollout)
                return value.detach(), stats

            check_deterministic(contract, "loss.deterministic", run, f"loss on chunk {i}")
            # step 3
            step.ctx.generator.manual_seed(0)
            value, stats = contract.attempt("loss", term.loss, step.ctx, chunk, step.rolled.rollout)
            finite_tensor(contract, "loss.value", value, (), f"term on chunk {i}")
            contract.expect("loss.value", bool(value.requires_grad), f"the term on chunk {i} has no graph")
            finite_stats(contract, "loss.stats", stats, f"stats on chunk {i}")
            if value.requires_grad:
                contract.attempt("loss.backward", (chunk.loss + term.coef * chunk.share * value).backward)
        grads = lora_grads(step.ctx)
        contract.expect("loss.gradient", all(bool(torch.isfinite(g).all()) for g in grads), "non-finite LoRA gradients")
        zero_lora_grads(step.ctx)
    return contract.passed
