"""The surrogate-policy contract: ``[N, B, G]`` normalised, finite, differentiable log-probabilities."""

from __future__ import annotations

from typing import Any

import torch

from editrl.interfaces import SurrogatePolicy
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_tensor,
)
from editrl.testing.report import Contract
from editrl.testing.world import ToyWorld, default_world

#: Anchors per group in the check, and the scale of the offset of an anchor's prediction from its next state.
ANCHORS, OFFSET = 2, 0.05


def check_policy(
    cls: type[SurrogatePolicy], config: dict[str, Any] | None = None, *, world: ToyWorld | None = None
) -> list[str]:
    """Check a surrogate policy; raise :class:`~editrl.testing.ContractError` or return the passed checks.

    1. the class implements :class:`~editrl.interfaces.SurrogatePolicy`; config and ``requires`` as for every kind;
    2. inputs from a toy-world rollout: candidates are the G stored states after the first solver step
       ``[N, G, C, h, w]``, predictions the first B candidates plus a small seeded offset ``[N, B, C, h, w]``, with the
       latent mask (and without one, unless ``mask`` is required);
    3. ``log_probs`` is finite ``[N, B, G]`` and normalised over G (``logsumexp = 0`` within 1e-4);
    4. its gradient with respect to the predictions is finite and not zero (the optimiser trains through it);
    5. two calls agree exactly whatever the global RNGs do, and no global RNG moves.
    """
    world = world or default_world()
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, SurrogatePolicy)
        settings = check_config(contract, cls, config)
        requires = check_requires(contract, cls)
        policy = contract.attempt("construct", cls, settings)
        # step 2
        rolled = world.rollout(keep_states=True)
        candidates = rolled.rollout.states[1]  # [N, G, C, h, w]
        N, G = candidates.shape[:2]
        offset = torch.randn(candidates[:, :ANCHORS].shape, generator=torch.Generator().manual_seed(0))
        prediction = candidates[:, :ANCHORS] + OFFSET * offset  # [N, B, C, h, w]
        mask = rolled.rollout.latent_mask  # [N, 1, h, w]
        for m in [mask] if "mask" in requires else [mask, None]:
            label = "with a latent mask" if m is not None else "without a mask"

            def run(m=m) -> torch.Tensor:
                return policy.log_probs(prediction, candidates, m)

            # step 5
            logp = check_deterministic(contract, "log_probs.deterministic", run, f"log_probs {label}")
            # step 3
            if finite_tensor(contract, "log_probs.shape", logp, (N, ANCHORS, G), f"log_probs {label}"):
                total = float(torch.logsumexp(logp.double(), dim=-1).abs().max())
                contract.expect(
                    "log_probs.normalised", total < 1e-4,
                    f"exp(log_probs) does not sum to 1 over G (|logsumexp| {total:.3g})",
                )
            # step 4
            leaf = prediction.clone().requires_grad_(True)
            def first_column_grad(m=m) -> torch.Tensor:
                return torch.autograd.grad(policy.log_probs(leaf, candidates, m)[..., 0].sum(), leaf)[0]

            grad = contract.attempt("log_probs.differentiable", first_column_grad)
            if finite_tensor(contract, "log_probs.differentiable", grad, tuple(leaf.shape), "d log π / d prediction"):
                contract.expect(
                    "log_probs.differentiable", bool(grad.abs().sum() > 0),
                    "log_probs does not depend on the prediction: the optimiser's gradient would be zero",
                )
    return contract.passed
