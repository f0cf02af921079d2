"""What components need from each other, checked when a recipe is validated instead of failing mid-run.

Names in a component's ``requires`` come from one vocabulary, defined here (and by the two interface constants it
names) and read by validation, ``editrl.testing`` and the docs alike:
- example fields a dataset ``provides``: :data:`EXAMPLE_FIELDS` (``mask``, ``target``, ``description``);
- quantities the engine always can compute: :data:`ENGINE_QUANTITIES`;
- backbone capabilities: :data:`CAPABILITY_INPUTS` (``attention`` needs a backbone with that capability);
- rewards may ask for :data:`editrl.interfaces.reward.REWARD_INPUTS` only (the fields of ``RewardInputs``);
- for regularisers, also the loss-chunk fields an optimiser ``provides``: :data:`CHUNK_FIELDS` (``velocity``,
  ``x0_pos``, ...).

:func:`known_requires` gives the names a component of each kind may declare.
"""

from __future__ import annotations

from typing import Any

from editrl.interfaces.dataset import EXAMPLE_FIELDS
from editrl.interfaces.optimizer import CHUNK_FIELDS
from editrl.interfaces.reward import REWARD_INPUTS
from editrl.registry import Registry

ENGINE_QUANTITIES = frozenset({"images", "latents", "source", "instruction", "source_latents"})
#: Inputs a backbone capability makes available (the capability has the same name).
CAPABILITY_INPUTS = frozenset({"attention"})
#: Kinds whose classes declare ``requires``; the others (backbone, dataset, solver) need nothing.
REQUIRING_KINDS = ("exploration", "policy", "reward", "regularizer", "optimizer")


def known_requires(kind: str) -> frozenset[str]:
    """Every name a component of ``kind`` may list in ``requires``.

    Rewards: :data:`REWARD_INPUTS`. Exploration schemes, policies and optimisers: example fields, engine quantities
    and capability inputs. Regularisers: those and the loss-chunk fields an optimiser may provide
    (:data:`editrl.interfaces.optimizer.CHUNK_FIELDS`). Other kinds: none.
    """
    if kind == "reward":
        return REWARD_INPUTS
    if kind not in REQUIRING_KINDS:
        return frozenset()
    names = EXAMPLE_FIELDS | ENGINE_QUANTITIES | CAPABILITY_INPUTS
    return names | CHUNK_FIELDS if kind == "regularizer" else names


def _spec_class(registry: Registry, kind: str, spec: Any):
    return registry.get(kind, spec.type)


def unmet_requirements(recipe: Any, registry: Registry) -> list[str]:
    """One ``location: message`` line per requirement the recipe's components leave unmet."""
    backbone = _spec_class(registry, "backbone", recipe.backbone)
    dataset = _spec_class(registry, "dataset", recipe.dataset)
    optimizer = _spec_class(registry, "optimizer", recipe.optimizer)
    provided = dataset.provided(recipe.dataset)
    available = set(ENGINE_QUANTITIES) | set(provided)
    available |= CAPABILITY_INPUTS & backbone.capabilities

    def explain(name: str) -> str:
        if name in CAPABILITY_INPUTS:
            return f"backbone {backbone.name!r} cannot capture {name}"
        if name in EXAMPLE_FIELDS:
            return f"dataset {dataset.name!r} does not provide {name!r} (it provides: {sorted(provided)})"
        return f"nothing in this recipe provides {name!r}"

    problems: list[str] = []

    def check(location: str, cls: type, extra: set[str] = frozenset()) -> None:
        for need in sorted(getattr(cls, "requires", frozenset()) - available - set(extra)):
            problems.append(f"{location}: {cls.kind} {cls.name!r} needs {need!r}, but {explain(need)}")

    check("exploration", _spec_class(registry, "exploration", recipe.exploration))
    check("optimizer", optimizer)
    if recipe.policy is not None:
        check("policy", _spec_class(registry, "policy", recipe.policy))
    elif optimizer.needs_policy:
        names = ", ".join(registry.names("policy")) or "(none registered)"
        problems.append(f"policy: optimizer {optimizer.name!r} needs a surrogate policy; add one of: {names}")
    for i, spec in enumerate(recipe.rewards):
        check(f"rewards.{i}", _spec_class(registry, "reward", spec))
    for i, spec in enumerate(recipe.eval.metrics):
        check(f"eval.metrics.{i}", _spec_class(registry, "reward", spec))
    for i, spec in enumerate(recipe.regularizers):
        cls = _spec_class(registry, "regularizer", spec)
        for need in sorted(cls.requires - available - optimizer.provides):
            if need not in CHUNK_FIELDS:  # an example field or capability: the dataset or backbone lacks it
                problems.append(f"regularizers.{i}: regularizer {cls.name!r} needs {need!r}, but {explain(need)}")
                continue
            problems.append(
                f"regularizers.{i}: regularizer {cls.name!r} needs {need!r}, which optimizer {optimizer.name!r} "
                f"does not produce (it provides: {sorted(optimizer.provides)})"
            )
    return problems
