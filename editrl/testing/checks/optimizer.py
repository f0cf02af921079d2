"""The policy-optimiser contract: advantages ``[N, G]``, finite differentiable chunks, state that round-trips."""

from __future__ import annotations

import io
from typing import Any

import torch

from editrl.interfaces import LossChunk, PolicyOptimizer
from editrl.interfaces.optimizer import ChunkTensors
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_stats, finite_tensor,
)
from editrl.testing.checks.training import (
    Companion, chunks_of, lora_grads, prepare_step, seeded_rewards, zero_lora_grads,
)
from editrl.testing.report import Contract
from editrl.testing.rng import first_difference, generator
from editrl.testing.world import ToyWorld, default_world


def check_optimizer(
    cls: type[PolicyOptimizer],
    config: dict[str, Any] | None = None,
    *,
    world: ToyWorld | None = None,
    policy: Companion = None,
) -> list[str]:
    """Check a policy optimiser; raise :class:`~editrl.testing.ContractError` or return the passed checks.

    1. the class implements :class:`~editrl.interfaces.PolicyOptimizer`; config and ``requires`` as for every kind;
       ``needs_states``/``needs_policy`` are booleans and ``provides`` a frozenset of names;
    2. ``setup`` on a toy-world train context (LoRA attached; ``policy``, or the first registered policy the world
       can feed, when ``needs_policy``), a rollout under ``rollout_weights``;
    3. ``advantages`` of seeded ``[N, G]`` rewards: finite ``[N, G]``, finite stats, deterministic under the generator;
    4. ``loss_chunks``: at least one :class:`LossChunk`, each a finite scalar with a graph, shares in (0, 1] adding up
       to 1 (within 1e-5), finite stats, ``tensors`` with ``rows [R]``, ``x``, ``sigma [R]`` and every field named in
       ``provides`` filled, finite, with R rows; deterministic under the generator; back-propagated, the LoRA
       gradients are finite and not all zero;
    5. ``after_update`` runs; ``state_dict`` survives ``torch.save``/``torch.load`` and ``load_state_dict`` into a
       fresh instance gives back an equal ``state_dict``.
    """
    world = world or default_world()
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, PolicyOptimizer)
        settings = check_config(contract, cls, config)
        requires = check_requires(contract, cls)
        contract.expect(
            "declarations", isinstance(cls.needs_states, bool) and isinstance(cls.needs_policy, bool)
            and isinstance(cls.provides, frozenset),
            "needs_states and needs_policy must be bools, provides a frozenset",
        )
        missing = sorted(requires - world.available)
        if missing:
            contract.fail("inputs", f"the toy world cannot provide {missing} (it provides {sorted(world.available)})")
        optimizer = contract.attempt("construct", cls, settings)
        # step 2
        step = prepare_step(contract, world, optimizer, policy)
        N, G = world.batch_size, world.group_size
        # step 3
        finite_tensor(contract, "advantages", step.advantages, (N, G), "advantages")
        finite_stats(contract, "advantages.stats", step.adv_stats, "advantage stats")
        check_deterministic(
            contract, "advantages.deterministic",
            lambda: optimizer.advantages(seeded_rewards(world), generator(0)), "advantages",
        )
        # step 4
        chunks = check_deterministic(
            contract, "loss_chunks.deterministic", lambda: chunks_of(optimizer, step), "loss_chunks"
        )
        _check_chunks(contract, cls, chunks)
        zero_lora_grads(step.ctx)
        for chunk in chunks:
            contract.attempt("loss_chunks.backward", chunk.loss.backward)
        grads = lora_grads(step.ctx)
        contract.expect(
            "loss_chunks.gradient", all(bool(torch.isfinite(g).all()) for g in grads), "non-finite LoRA gradients"
        )
        contract.expect(
            "loss_chunks.gradient", any(bool(g.abs().sum() > 0) for g in grads),
            "the objective's gradient does not reach the LoRA weights (all zero)",
        )
        zero_lora_grads(step.ctx)
        # step 5
        contract.attempt("after_update", optimizer.after_update, step.ctx, 1)
        state = contract.attempt("state_dict", optimizer.state_dict)
        buffer = io.BytesIO()
        contract.attempt("state_dict.serialisable", torch.save, state, buffer)
        buffer.seek(0)
        restored = torch.load(buffer, weights_only=False)
        fresh = cls(settings)
        contract.attempt("load_state_dict", fresh.setup, world.train_context(policy=step.ctx.policy))
        contract.attempt("load_state_dict", fresh.load_state_dict, restored)
        diff = first_difference(state, fresh.state_dict(), "state_dict")
        contract.expect("state.round_trip", diff is None, f"a fresh instance loaded with state_dict() differs: {diff}")
    return contract.passed


def _check_chunks(contract: Contract, cls: type[PolicyOptimizer], chunks: list) -> None:
    if not chunks:
        contract.fail("loss_chunks", "yielded no chunk")
    shares = 0.0
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, LossChunk):
            contract.fail("loss_chunks", f"chunk {i} is a {type(chunk).__name__}, not an editrl.interfaces.LossChunk")
        finite_tensor(contract, "loss_chunks.loss", chunk.loss, (), f"chunk {i} loss")
        contract.expect(
            "loss_chunks.loss", chunk.loss.requires_grad, f"chunk {i} loss has no graph (requires_grad is False)"
        )
        contract.expect("loss_chunks.share", 0 < chunk.share <= 1, f"chunk {i} share {chunk.share!r} is not in (0, 1]")
        shares += float(chunk.share)
        finite_stats(contract, "loss_chunks.stats", chunk.stats, f"chunk {i} stats")
        _check_tensors(contract, cls, chunk.tensors, i)
    contract.expect("loss_chunks.shares", abs(shares - 1) < 1e-5, f"chunk shares add up to {shares:.6g}, not 1")


def _check_tensors(contract: Contract, cls: type[PolicyOptimizer], t: ChunkTensors, i: int) -> None:
    """The chunk's rows: ``rows [R]`` int64, ``x [R, ...]``, ``sigma [R]``; every provided field filled, finite."""
    if not isinstance(t, ChunkTensors):
        contract.fail("loss_chunks.tensors", f"chunk {i} tensors is a {type(t).__name__}, not ChunkTensors")
    R = int(t.rows.shape[0]) if isinstance(t.rows, torch.Tensor) and t.rows.ndim == 1 else -1
    contract.expect(
        "loss_chunks.tensors", R > 0 and t.rows.dtype == torch.int64,
        f"chunk {i} rows must be [R] int64, got {t.rows!r}",
    )
    finite_tensor(contract, "loss_chunks.tensors", t.x, None, f"chunk {i} x")
    finite_tensor(contract, "loss_chunks.tensors", t.sigma, (R,), f"chunk {i} sigma")
    for name in sorted(cls.provides):
        value = getattr(t, name)
        if contract.expect("loss_chunks.provides", value is not None, f"chunk {i} leaves {name!r} empty (in provides)"):
            finite_tensor(contract, "loss_chunks.provides", value, None, f"chunk {i} {name}")
            contract.expect(
                "loss_chunks.provides", value.shape[0] == R, f"chunk {i} {name} has {value.shape[0]} rows, not R = {R}"
            )
