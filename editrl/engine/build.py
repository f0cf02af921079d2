"""From a validated recipe to component instances, and from a recipe file to a validated recipe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from editrl.config import apply_overrides, load_recipe_dict, validate_recipe
from editrl.config.schema import RecipeBase
from editrl.errors import RecipeError
from editrl.interfaces import (
    Backbone, EditDataset, ExplorationScheme, PolicyOptimizer, Regularizer, Reward, Solver, SurrogatePolicy,
)
from editrl.plugin_manager import build_registry, get_plugin_manager
from editrl.registry import Registry


@dataclass
class Components:
    backbone: Backbone
    dataset: EditDataset
    exploration: ExplorationScheme
    solver: Solver
    policy: SurrogatePolicy | None
    optimizer: PolicyOptimizer
    rewards: list[Reward]
    regularizers: list[Regularizer]
    eval_metrics: list[Reward]

    def training_consumers(self) -> list:
        """Every component whose ``requires`` the training step must satisfy: rewards, regularisers, optimiser,
        exploration and policy (the engine computes the union of their needs)."""
        return [*self.rewards, *self.regularizers, self.optimizer, self.exploration, *([self.policy] if self.policy else [])]


def build_components(recipe: RecipeBase, registry: Registry) -> Components:
    """Instantiate every section with its validated config (the spec is an instance of the class's ``Config``)."""
    make = lambda kind, spec: registry.get(kind, spec.type)(spec)  # noqa: E731
    rewards = [make("reward", s) for s in recipe.rewards]
    metrics = [make("reward", s) for s in recipe.eval.metrics] or rewards
    return Components(
        backbone=make("backbone", recipe.backbone),
        dataset=make("dataset", recipe.dataset),
        exploration=make("exploration", recipe.exploration),
        solver=make("solver", recipe.solver),
        policy=make("policy", recipe.policy) if recipe.policy is not None else None,
        optimizer=make("optimizer", recipe.optimizer),
        rewards=rewards,
        regularizers=[make("regularizer", s) for s in recipe.regularizers],
        eval_metrics=metrics,
    )


def load_recipe(
    path: str | Path, overrides: list[str] = (), extra_plugins: list[str] = (), blocked: list[str] = ()
) -> tuple[RecipeBase, Registry]:
    """Read, override and validate a recipe; plugins are those installed plus the recipe's and ``extra_plugins``."""
    data = apply_overrides(load_recipe_dict(path), list(overrides))
    local = data.get("plugins", [])
    if not isinstance(local, list) or not all(isinstance(m, str) for m in local):
        raise RecipeError(str(path), ["plugins: expected a list of module names"])
    pm = get_plugin_manager(extra_modules=[*local, *extra_plugins], blocked=blocked)
    registry = build_registry(pm)
    return validate_recipe(data, registry, source=str(path)), registry
