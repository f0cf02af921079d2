"""A contract suite for editrl components, for plugin authors' test suites and editrl's own.

Call the check of a component's kind on its class (or :func:`check_component`, which dispatches by ``cls.kind``)::

    from editrl.testing import check_component, check_reward

    def test_brightness_keeps_the_contract():
        check_reward(Brightness, {"target": 0.3})

Each check raises :class:`ContractError` (an ``AssertionError``) listing every broken expectation, or returns the names
of the checks that passed. For every kind it checks that the config forbids extra keys and documents its fields,
that ``requires`` names only known inputs (:func:`editrl.requirements.known_requires`), that outputs have the declared
shapes and are finite on inputs generated from the toy world, that randomness comes only from the generator the
engine passes (identically seeded calls agree whatever the global RNGs do, and no global RNG moves), and that state
round-trips (optimiser ``state_dict``, deterministic dataset splits).

Inputs come from :class:`ToyWorld` (the ``toy_shapes`` dataset and ``toy_editor`` backbone, looked up in the plugin
registry); pytest fixtures over it live in :mod:`editrl.testing.fixtures` (``pytest_plugins =
["editrl.testing.fixtures"]`` in a ``conftest.py``). pytest is needed only for those fixtures.
"""

from __future__ import annotations

from typing import Any

from editrl.testing.checks.backbone import check_backbone
from editrl.testing.checks.dataset import check_dataset
from editrl.testing.checks.exploration import check_exploration
from editrl.testing.checks.optimizer import check_optimizer
from editrl.testing.checks.policy import check_policy
from editrl.testing.checks.regularizer import check_regularizer
from editrl.testing.checks.reward import check_reward
from editrl.testing.checks.solver import check_solver
from editrl.testing.report import ContractError
from editrl.testing.world import ToyWorld, ToyWorldUnavailable, WorldRollout, default_world

#: The check of each kind (:data:`editrl.registry.KINDS`).
CHECKS = {
    "backbone": check_backbone,
    "dataset": check_dataset,
    "exploration": check_exploration,
    "solver": check_solver,
    "policy": check_policy,
    "reward": check_reward,
    "regularizer": check_regularizer,
    "optimizer": check_optimizer,
}


def check_component(cls: type, config: dict[str, Any] | None = None, **options: Any) -> list[str]:
    """Run the contract check of ``cls.kind`` on ``cls`` with ``config`` (default: the config's defaults).

    ``options`` go to that check: ``world=`` for every kind, ``batch=`` for backbones, ``policy=`` for optimisers,
    ``optimizer=``/``policy=`` for regularisers. Raises :class:`ContractError`; returns the names of the passed checks.
    """
    kind = getattr(cls, "kind", None)
    if kind not in CHECKS:
        raise ContractError(
            f"{cls!r}", [f"kind: {kind!r} is not a component kind; subclass one of editrl.interfaces' ABCs"]
        )
    return CHECKS[kind](cls, config, **options)


__all__ = [
    "CHECKS", "ContractError", "ToyWorld", "ToyWorldUnavailable", "WorldRollout", "check_backbone", "check_component",
    "check_dataset", "check_exploration", "check_optimizer", "check_policy", "check_regularizer", "check_reward",
    "check_solver", "default_world",
]
