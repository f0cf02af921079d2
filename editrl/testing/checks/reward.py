"""The reward contract: scores of shape ``[M]``, finite, deterministic, computed from the requested inputs only."""

from __future__ import annotations

import copy
from typing import Any

import torch

from editrl.interfaces import Reward, RewardOutput
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_stats, finite_tensor,
)
from editrl.testing.report import Contract
from editrl.testing.rng import first_difference
from editrl.testing.world import ToyWorld, default_world


def check_reward(
    cls: type[Reward], config: dict[str, Any] | None = None, *, world: ToyWorld | None = None
) -> list[str]:
    """Check a reward class against editrl's contract; raise :class:`~editrl.testing.ContractError` listing every
    failure, or return the names of the checks that passed.

    1. the class implements :class:`~editrl.interfaces.Reward`, its config forbids extra keys and documents its
       fields, ``config`` validates;
    2. ``requires`` names only :data:`~editrl.interfaces.reward.REWARD_INPUTS`; with ``attention``,
       ``attention_layers`` is at least 1;
    3. on inputs built by the engine from a toy-world rollout, holding only the requested fields, scoring twice
       gives equal outputs whatever the global RNGs do, and moves no global RNG;
    4. ``score`` returns a :class:`RewardOutput` whose ``values`` (on its valid rows) and ``details`` are finite
       ``[M]`` tensors and whose ``counters`` are finite, and it leaves the inputs unchanged.

    Example: ``check_reward(Brightness, {"target": 0.3})``.
    """
    world = world or default_world()
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, Reward)
        settings = check_config(contract, cls, config)
        # step 2
        requires = check_requires(contract, cls)
        reward = contract.attempt("construct", cls, settings)
        layers = reward.attention_layers if "attention" in requires else 0
        if "attention" in requires:
            contract.expect("attention_layers", layers >= 1, f"requires attention but attention_layers is {layers}")
        missing = sorted(requires - world.available)
        if missing:
            contract.fail("inputs", f"the toy world cannot provide {missing} (it provides {sorted(world.available)})")
        # step 3
        contract.attempt("load", reward.load, torch.device("cpu"))
        inputs = contract.attempt("inputs", world.reward_inputs, requires, attention_layers=max(layers, 1))
        M = len(inputs.tasks)
        kept = copy.deepcopy(inputs)
        out = check_deterministic(contract, "score.deterministic", lambda: reward.score(inputs), "score")
        if not isinstance(out, RewardOutput):
            contract.fail("score", f"must return an editrl.interfaces.RewardOutput, got {type(out).__name__}")
        # step 4
        valid = contract.attempt("score.values", lambda: out.valid_mask)  # [M] bool: unscored rows are left out
        contract.expect("score.valid", tuple(valid.shape) == (M,), f"valid has shape {list(valid.shape)}, not [{M}]")
        contract.expect("score.valid", bool(valid.any()), "no row is valid")
        values = out.values
        if out.valid is not None and isinstance(values, torch.Tensor) and tuple(values.shape) == (M,):
            values = torch.where(valid.to(values.device), values, torch.zeros_like(values))  # [M] invalid rows ignored
        finite_tensor(contract, "score.values", values, (M,), "values on valid rows")
        for key, detail in out.details.items():
            finite_tensor(contract, "score.details", detail, (M,), f"details[{key!r}]")
        finite_stats(contract, "score.counters", out.counters, "counters")
        changed = first_difference(kept, inputs, "inputs")
        contract.expect("score.inputs_unchanged", changed is None, f"score modified its inputs in place ({changed})")
    return contract.passed
