"""Every check of ``editrl.testing`` can fail: deliberately broken components are caught, each by the named check.

The good components here are minimal and correct (the README's brightness reward, an iid exploration, Euler); each
broken one changes one thing.
"""

from __future__ import annotations

import random

import pytest
import torch
from pydantic import ConfigDict, Field

from editrl.interfaces import ExplorationScheme, InitialNoise, RewardOutput, Solver
from editrl.registry import Registry
from editrl.testing import (
    ContractError, ToyWorldUnavailable, check_component, check_exploration, check_reward, check_solver,
)
from editrl.testing.world import ToyWorld, default_registry, default_world
from tests_support import fake_plugin_module

REGISTRY = default_registry()


#: The README's brightness reward (the fake third-party plugin's, one source for both).
_BRIGHTNESS = fake_plugin_module()
BrightnessConfig, Brightness = _BRIGHTNESS.BrightnessConfig, _BRIGHTNESS.Brightness


class Iid(ExplorationScheme):
    """iid N(0, I) noise from the generator."""

    name = "test_iid"

    def sample(self, n, latent_shape, latent_mask, generator):
        x_T = torch.randn((n, self.group_size, *latent_shape), generator=generator)  # [n, G, C, h, w]
        return InitialNoise(x_T=x_T, reference=None)


class Euler(Solver):
    """Euler."""

    name = "test_euler"

    def step(self, velocity, x, sigma, sigma_next):
        return x + (sigma_next - sigma) * velocity(x, torch.full((x.shape[0],), sigma))


def failures(excinfo) -> list[str]:
    return [f.split(":")[0] for f in excinfo.value.failures]


def test_good_components_pass():
    assert {"config.extra_forbidden", "requires.known", "score.values", "randomness.global_rng"} <= set(
        check_reward(Brightness, {"target": 0.3})
    )
    assert "randomness.uses_generator" in check_exploration(Iid, {"group_size": 3})
    assert "step.constant_field" in check_component(Euler, {"steps": 2})


class LooseConfig(BrightnessConfig):
    model_config = ConfigDict(extra="allow")  # accepts typos


class BareConfig(BrightnessConfig):
    gain: float = Field(1.0, ge=0.0)  # a field without help


class OpenConfig(BrightnessConfig):
    gain: float = 1.0
    """A documented field with no range."""


@pytest.mark.parametrize(
    ("config", "match", "failure"),
    [
        (LooseConfig, "unknown key", "config.extra_forbidden"),
        (BareConfig, "gain", "config.documented"),
        (OpenConfig, "without bounds: gain", "config.bounded"),
    ],
    ids=["extra-keys-allowed", "undocumented-field", "unbounded-numeric-field"],
)
def test_bad_configs_are_caught(config, match, failure):
    class Variant(Brightness):
        """The brightness reward with one thing wrong in its config."""

        Config = config

    with pytest.raises(ContractError, match=match) as excinfo:
        check_reward(Variant)
    assert failures(excinfo) == [failure]


def test_unknown_requires_is_caught():
    class Depth(Brightness):
        """Asks for an input nobody computes."""

        requires = frozenset({"images", "depth"})

    with pytest.raises(ContractError, match=r"unknown names \['depth'\]"):
        check_reward(Depth)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (lambda v: v[:, None], r"shape \[\d+, 1\], expected \[\d+\]"),  # [M, 1] instead of [M]
        (lambda v: v.masked_fill(torch.arange(len(v)) == 1, float("nan")), "1 non-finite elements"),
        (lambda v: (v > -0.2).long(), "expected a floating dtype"),
    ],
    ids=["wrong-shape", "nan", "integer"],
)
def test_bad_reward_values_are_caught(values, message):
    class Bad(Brightness):
        """Returns malformed values."""

        def score(self, inputs):
            out = super().score(inputs)
            return RewardOutput(values=values(out.values))

    with pytest.raises(ContractError, match=message) as excinfo:
        check_reward(Bad)
    assert "score.values" in failures(excinfo)


def test_reward_reading_an_unrequested_field_is_caught():
    class Sneaky(Brightness):
        """Reads the mask without requiring it (the engine then passes None)."""

        def score(self, inputs):
            return RewardOutput(values=inputs.mask.mean(dim=(1, 2, 3)))

    with pytest.raises(ContractError, match="'NoneType' object has no attribute 'mean'"):
        check_reward(Sneaky)


def test_global_rng_use_is_caught():
    class Global(Iid):
        """Draws from the global torch RNG instead of the generator."""

        def sample(self, n, latent_shape, latent_mask, generator):
            return InitialNoise(x_T=torch.randn((n, self.group_size, *latent_shape)), reference=None)

    with pytest.raises(ContractError) as excinfo:
        check_exploration(Global)
    assert {"sample.deterministic", "randomness.global_rng"} <= set(failures(excinfo))
    assert "torch" in str(excinfo.value)


def test_python_random_use_is_caught():
    class Jitter(Brightness):
        """Adds noise from Python's global RNG."""

        def score(self, inputs):
            out = super().score(inputs)
            return RewardOutput(values=out.values + random.random())

    with pytest.raises(ContractError, match="global RNG of random moved") as excinfo:
        check_reward(Jitter)
    assert set(failures(excinfo)) == {"score.deterministic", "randomness.global_rng"}


def test_an_exploration_that_ignores_the_generator_is_caught():
    class Constant(Iid):
        """The same noise for every candidate and every seed."""

        def sample(self, n, latent_shape, latent_mask, generator):
            return InitialNoise(x_T=torch.ones((n, self.group_size, *latent_shape)), reference=None)

    with pytest.raises(ContractError) as excinfo:
        check_exploration(Constant)
    assert set(failures(excinfo)) == {"randomness.uses_generator", "sample.explores"}


def test_wrong_noise_shape_and_reference_are_caught():
    class Short(Iid):
        """One candidate too few, and a reference outside the group."""

        def sample(self, n, latent_shape, latent_mask, generator):
            noise = super().sample(n, latent_shape, latent_mask, generator)
            return InitialNoise(x_T=noise.x_T[:, 1:], reference=self.group_size)

    with pytest.raises(ContractError, match=r"x_T .* has shape \[2, 3, 3, 32, 32\], expected \[2, 4, 3, 32, 32\]") as e:
        check_exploration(Short, {"group_size": 4})
    assert "sample.reference" in failures(e)


def test_inconsistent_solvers_are_caught():
    class Backwards(Euler):
        """Steps the wrong way."""

        def step(self, velocity, x, sigma, sigma_next):
            return x - (sigma_next - sigma) * velocity(x, torch.full((x.shape[0],), sigma))

    class Doubled(Euler):
        """Exact on constant fields (it is affine in v with slope σ' − σ) but evaluates v at 2x."""

        def step(self, velocity, x, sigma, sigma_next):
            return x + (sigma_next - sigma) * velocity(2 * x, torch.full((x.shape[0],), sigma))

    with pytest.raises(ContractError) as excinfo:
        check_solver(Backwards)
    assert {"step.constant_field", "step.consistent"} <= set(failures(excinfo))
    # v = x from 2x: x + h·2x vs x·e^h, an error of |h|·|x| = 1e-3 relative, far above O(h²) = 5e-7
    with pytest.raises(ContractError) as excinfo:
        check_solver(Doubled)
    assert failures(excinfo) == ["step.consistent"]


def test_unnormalised_policy_is_caught():
    Masked = REGISTRY.get("policy", "masked")

    class Unnormalised(Masked):
        """Forgets the softmax normaliser."""

        def log_probs(self, prediction, candidates, latent_mask):
            return super().log_probs(prediction, candidates, latent_mask) + 0.5

    with pytest.raises(ContractError, match="does not sum to 1") as excinfo:
        check_component(Unnormalised)
    assert set(failures(excinfo)) == {"log_probs.normalised"}


def test_broken_state_round_trip_is_caught():
    GrpoClip = REGISTRY.get("optimizer", "grpo_clip")

    class Counting(GrpoClip):
        """Counts updates in its state, but forgets to restore the count."""

        def __init__(self, config):
            super().__init__(config)
            self.updates = 0

        def after_update(self, ctx, step):
            self.updates += 1

        def state_dict(self):
            return {"updates": self.updates}

        def load_state_dict(self, state):
            pass

    with pytest.raises(ContractError, match=r"state_dict\['updates'\]: 1 vs 0") as excinfo:
        check_component(Counting, {"anchors": 2})
    assert failures(excinfo) == ["state.round_trip"]


def test_non_deterministic_dataset_split_is_caught():
    ToyShapes = REGISTRY.get("dataset", "toy_shapes")

    class Shuffled(ToyShapes):
        """Shuffles its splits with the global RNG."""

        def split(self, name):
            examples = super().split(name)
            order = torch.randperm(len(examples)).tolist()
            return [examples[i] for i in order[:3]]

    with pytest.raises(ContractError) as excinfo:
        check_component(Shuffled, {"train_size": 12, "eval_size": 6})
    assert set(failures(excinfo)) == {"split.deterministic", "randomness.global_rng"}


def test_not_a_component_and_missing_toy_world_are_clear():
    with pytest.raises(ContractError, match="is not a component kind"):
        check_component(dict)
    with pytest.raises(ToyWorldUnavailable, match=r"unknown dataset 'toy_shapes'.*reinstall editrl"):
        ToyWorld(Registry())


def test_checks_leave_the_global_rng_as_they_found_it():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_exploration(Iid, world=default_world())
    assert torch.equal(torch.rand(3), expected)


def test_bad_backbone_schedule_and_velocity_are_caught():
    ToyEditor = REGISTRY.get("backbone", "toy_editor")

    class Stops(ToyEditor):
        """Never reaches σ = 0, and predicts one channel too few."""

        def sigmas(self, num_steps, latent_shape):
            return super().sigmas(num_steps, latent_shape).clamp_min(0.1)

        def velocity(self, x, sigma, cond):
            return super().velocity(x, sigma, cond)[:, 1:]

    with pytest.raises(ContractError) as excinfo:
        check_component(Stops, {"weights": "random", "dim": 16, "depth": 1, "heads": 2})
    assert {"sigmas", "velocity"} <= set(failures(excinfo))
    assert "decreasing from at most 1 to 0" in str(excinfo.value)


def test_nan_regularizer_term_is_caught():
    VelocityKL = REGISTRY.get("regularizer", "velocity_kl")

    class Nan(VelocityKL):
        """Divides by zero."""

        def loss(self, ctx, chunk, rollout):
            term, stats = super().loss(ctx, chunk, rollout)
            return term / 0.0 * 0.0, stats

    with pytest.raises(ContractError, match="non-finite") as excinfo:
        check_component(Nan, optimizer=REGISTRY.get("optimizer", "grpo_clip"))
    assert "loss.value" in failures(excinfo)
