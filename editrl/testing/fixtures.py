"""pytest fixtures over the toy world, for plugin test suites: add ``pytest_plugins = ["editrl.testing.fixtures"]``
to a ``conftest.py`` (or run ``pytest -p editrl.testing.fixtures``).

``toy_world`` is built once per session; the others are fresh per test:

* ``toy_batch``: an :class:`~editrl.interfaces.EditBatch` of N = 2 toy edits (sources, masks, targets, descriptions);
* ``rollout``: a :class:`~editrl.testing.WorldRollout` of that batch, G = 4 candidates, states kept;
* ``reward_inputs``: a factory, ``reward_inputs({"images", "mask"})`` → :class:`~editrl.interfaces.RewardInputs`
  holding only those fields, as the engine builds them;
* ``train_context``: a :class:`~editrl.interfaces.TrainContext` with LoRA on a fresh copy of the toy editor.
"""

from __future__ import annotations

import pytest

from editrl.testing.world import ToyWorld


@pytest.fixture(scope="session")
def toy_world() -> ToyWorld:
    """The toy world over every installed plugin (toy_shapes, toy_editor, euler), built once per session."""
    return ToyWorld()


@pytest.fixture
def toy_batch(toy_world: ToyWorld):
    """The first N = 2 examples of the toy world's eval split, collated."""
    return toy_world.batch()


@pytest.fixture
def rollout(toy_world: ToyWorld):
    """A rollout of ``toy_batch`` from seeded iid noise: G = 4 candidates, K = 2 Euler steps, states kept."""
    return toy_world.rollout()


@pytest.fixture
def reward_inputs(toy_world: ToyWorld):
    """``reward_inputs(requires, attention_layers=1, seed=0)`` → reward inputs from a toy rollout."""
    return toy_world.reward_inputs


@pytest.fixture
def train_context(toy_world: ToyWorld):
    """A train context: LoRA (rank 4) on a fresh toy editor, the world's solver, no policy."""
    return toy_world.train_context()
