"""What components need from each other, checked when a recipe is validated instead of failing mid-run.

Names in a component's ``requires`` come from one vocabulary:
- example fields a dataset ``provides``: ``mask``, ``target``, ``description``;
- quantities the engine always can compute: ``images``, ``latents``, ``source``, ``instruction``,
  ``source_latents``;
- ``attention``: needs a backbone with the ``attention`` capability;
- for regularisers, the chunk outputs an optimiser ``provides`` (e.g. ``velocity``, ``x0_pos``).
"""

from __future__ import annotations

from typing import Any

from editrl.registry import Registry

ENGINE_QUANTITIES = frozenset({"images", "latents", "source", "instruction", "source_latents"})


def _spec_class(registry: Registry, kind: str, spec: Any):
    return registry.get(kind, spec.type)


def unmet_requirements(recipe: Any, registry: Registry) -> list[str]:
    """One ``location: message`` line per requirement the recipe's components leave unmet."""
    backbone = _spec_class(registry, "backbone", recipe.backbone)
    dataset = _spec_class(registry, "dataset", recipe.dataset)
    optimizer = _spec_class(registry, "optimizer", recipe.optimizer)
    provided = dataset.provided(recipe.dataset)
    available = set(ENGINE_QUANTITIES) | set(provided)
    if "attention" in backbone.capabilities:
        available.add("attention")

    def explain(name: str) -> str:
        if name == "attention":
            return f"backbone {backbone.name!r} cannot capture attention"
        if name in {"mask", "target", "description"}:
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
            problems.append(
                f"regularizers.{i}: regularizer {cls.name!r} needs {need!r}, which optimizer {optimizer.name!r} "
                f"does not produce (it provides: {sorted(optimizer.provides)})"
            )
    return problems
