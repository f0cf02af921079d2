"""The exploration contract: ``[n, G, C, h, w]`` finite noises drawn from the generator alone."""

from __future__ import annotations

from typing import Any

import torch

from editrl.interfaces import ExplorationScheme, InitialNoise
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_stats, finite_tensor,
)
from editrl.testing.report import Contract
from editrl.testing.rng import generator
from editrl.testing.world import ToyWorld, default_world


def check_exploration(
    cls: type[ExplorationScheme], config: dict[str, Any] | None = None, *, world: ToyWorld | None = None
) -> list[str]:
    """Check an exploration scheme; raise :class:`~editrl.testing.ContractError` or return the passed checks.

    1. the class implements :class:`~editrl.interfaces.ExplorationScheme`; config and ``requires`` as for every kind;
    2. ``sample`` on the toy world's latent shape, with its latent mask (and without one, unless ``mask`` is
       required), returns an :class:`InitialNoise` with finite ``x_T [n, G, C, h, w]``, a reference index inside
       the group or None, at least one perturbed candidate and finite ``stats``;
    3. the same generator seed gives the same noises whatever the global RNGs do, no global RNG moves, another seed
       gives other noises, and a group's candidates are not all identical.
    """
    world = world or default_world()
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, ExplorationScheme)
        settings = check_config(contract, cls, config)
        requires = check_requires(contract, cls)
        scheme = contract.attempt("construct", cls, settings)
        # step 2
        n, shape = 2, world.latent_shape()
        G = scheme.group_size
        mask = world.latent_mask(world.batch(n))  # [n, 1, h, w]
        masks = [mask] if "mask" in requires else [mask, None]
        for m in masks:
            label = "with a latent mask" if m is not None else "without a mask"

            def draw(seed: int = 0, m=m) -> InitialNoise:
                return scheme.sample(n, shape, m, generator(seed))

            noise = check_deterministic(contract, "sample.deterministic", draw, f"sample {label}")
            if not isinstance(noise, InitialNoise):
                contract.fail("sample", f"must return an editrl.interfaces.InitialNoise, got {type(noise).__name__}")
            finite_tensor(contract, "sample.x_T", noise.x_T, (n, G, *shape), f"x_T {label}")
            ref = noise.reference
            contract.expect(
                "sample.reference", ref is None or (isinstance(ref, int) and 0 <= ref < G),
                f"reference must be None or an index in 0..{G - 1}, got {ref!r}",
            )
            contract.expect("sample.perturbed", len(noise.perturbed) >= 1, "no candidate is perturbed")
            finite_stats(contract, "sample.stats", noise.stats, "stats")
            # step 3
            other = draw(seed=1)
            contract.expect(
                "randomness.uses_generator", not torch.equal(other.x_T, noise.x_T),
                "another generator seed gives the same noises: draw them from the generator passed to sample",
            )
            spread = (noise.x_T - noise.x_T[:, :1]).abs().flatten(2).amax(dim=2)  # [n, G]
            contract.expect(
                "sample.explores", bool((spread > 0).any(dim=1).all()),
                "every candidate of a group is identical: the group gives no advantage signal",
            )
    return contract.passed
