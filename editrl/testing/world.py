"""The toy world as a test bench: small batches, rollouts, reward inputs and training contexts for contract checks.

Everything is built through the registry (the ``toy`` plugin's ``toy_shapes`` dataset and ``toy_editor`` backbone, the
``solvers`` plugin's ``euler``), never imported by name, so third-party test suites get the same bench as editrl's
own. All randomness is seeded and drawn from local generators; building the bench leaves the global RNGs as they were.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any

import torch

from editrl.component import Component
from editrl.config.schema import LoraSettings
from editrl.engine.lora import LoraController, lora_config
from editrl.engine.rollout import integrate
from editrl.engine.scoring import build_inputs
from editrl.errors import EditrlError, RegistryError
from editrl.interfaces import (
    Backbone, EditBatch, EditDataset, InitialNoise, RewardInputs, Rollout, Solver, SurrogatePolicy, TrainContext,
)
from editrl.registry import Registry
from editrl.testing.rng import preserved_global_rng

#: The world's defaults: small enough for a test, large enough for groups, anchors and a masked region.
DATASET = ("toy_shapes", {"train_size": 64, "eval_size": 6})
BACKBONE = ("toy_editor", {})
SOLVER = ("euler", {"steps": 2})


class ToyWorldUnavailable(EditrlError):
    """A component the toy world is built from is not registered (the toy or solvers plugin is missing)."""


def default_registry() -> Registry:
    """The registry of every installed plugin (entry points), as ``editrl`` itself builds it."""
    from editrl.plugin_manager import build_registry, get_plugin_manager

    return build_registry(get_plugin_manager())


@dataclass
class WorldRollout:
    """A rollout of the world's batch: what an optimiser receives, plus what rewards read."""

    batch: EditBatch  # N examples
    rollout: Rollout  # final [N, G, C, h, w], states [K + 1, N, G, C, h, w] or None
    images: torch.Tensor  # [N·G, 3, H, W] decoded finals in [0, 1]
    attention: list[torch.Tensor] | None  # per (forward, layer) [N·G, n_img], when captured


class ToyWorld:
    """Small inputs from the toy world for checking components of every kind.

    Args:
        registry: where the world's components are looked up (default: every installed plugin).
        batch_size: examples N per batch.
        group_size: candidates G per group in rollouts.
        dataset, backbone, solver: ``(registry name, config dict)`` of the world's components.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        batch_size: int = 2,
        group_size: int = 4,
        dataset: tuple[str, dict[str, Any]] = DATASET,
        backbone: tuple[str, dict[str, Any]] = BACKBONE,
        solver: tuple[str, dict[str, Any]] = SOLVER,
    ) -> None:
        self.registry = registry if registry is not None else default_registry()
        self.batch_size = batch_size
        self.group_size = group_size
        self._backbone_spec = backbone
        self.dataset: EditDataset = self.make("dataset", *dataset)
        self.solver: Solver = self.make("solver", *solver)
        with preserved_global_rng():
            self.backbone: Backbone = self.make("backbone", *backbone)
            self.backbone.load(torch.device("cpu"))

    # -- components ----------------------------------------------------------------------------------------------
    def make(self, kind: str, name: str, config: dict[str, Any] | None = None) -> Component:
        """Instantiate the registered ``kind`` ``name`` with ``config`` (validated by its ``Config``)."""
        try:
            cls = self.registry.get(kind, name)
        except RegistryError as exc:
            raise ToyWorldUnavailable(
                f"editrl.testing builds its inputs from the toy world, but {exc}. The toy world ships with editrl "
                "(plugins `toy` and `solvers`): reinstall editrl, and check that EDITRL_DISABLE_PLUGINS does not "
                "block them"
            ) from None
        return cls(cls.Config(**(config or {})))

    def fresh_backbone(self) -> Backbone:
        """Another loaded copy of the world's backbone (for LoRA, which modifies the network in place)."""
        with preserved_global_rng():
            backbone: Backbone = self.make("backbone", *self._backbone_spec)
            backbone.load(torch.device("cpu"))
        return backbone

    @property
    def available(self) -> frozenset[str]:
        """What the world can feed a component: engine quantities, the dataset's fields, the backbone's
        capabilities (the recipe-validation vocabulary of :mod:`editrl.requirements`)."""
        from editrl.requirements import CAPABILITY_INPUTS, ENGINE_QUANTITIES

        provided = type(self.dataset).provided(self.dataset.config)
        return ENGINE_QUANTITIES | provided | (CAPABILITY_INPUTS & type(self.backbone).capabilities)

    # -- data ----------------------------------------------------------------------------------------------------
    def batch(self, n: int | None = None, split: str = "eval") -> EditBatch:
        """The first ``n`` (default ``batch_size``) examples of a split, collated."""
        examples = self.dataset.split(split)
        return EditBatch.collate([examples[i] for i in range(n or self.batch_size)])

    def latent_shape(self, batch: EditBatch | None = None) -> tuple[int, int, int]:
        """``(C, h, w)`` of the world backbone's latents."""
        return self.backbone.latent_shape(batch if batch is not None else self.batch())

    def latent_mask(self, batch: EditBatch | None = None) -> torch.Tensor | None:
        """``[N, 1, h, w]`` latent edit mask of a batch (1 = edit), or None when the dataset has no masks."""
        batch = batch if batch is not None else self.batch()
        return None if batch.mask is None else self.backbone.latent_mask(batch.mask, self.latent_shape(batch))

    def noise(self, n: int, seed: int = 0, group_size: int | None = None) -> InitialNoise:
        """``[n, G, C, h, w]`` iid N(0, I) initial noises from a generator seeded with ``seed``."""
        g = torch.Generator().manual_seed(seed)
        G = group_size or self.group_size
        return InitialNoise(x_T=torch.randn((n, G, *self.latent_shape()), generator=g), reference=None)

    # -- rollouts ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def rollout(
        self,
        *,
        seed: int = 0,
        keep_states: bool = True,
        attention_layers: int = 0,
        backbone: Backbone | None = None,
        weights: contextlib.AbstractContextManager | None = None,
        source_latents: bool = False,
    ) -> WorldRollout:
        """Roll the world's batch out from iid noise, as the engine does (encode once, integrate, decode).

        Args:
            seed: seed of the initial noises.
            keep_states: store every solver state (optimisers with ``needs_states``).
            attention_layers: capture the text→image attention of this many last layers (0: none).
            backbone: roll out another backbone (e.g. one with LoRA) instead of the world's.
            weights: the context the rollout runs under (an optimiser's ``rollout_weights``).
            source_latents: also encode the sources (components requiring ``source_latents``).
        """
        bb = backbone or self.backbone
        batch = self.batch()
        N, G = len(batch), self.group_size
        shape = bb.latent_shape(batch)  # (C, h, w)
        noise = self.noise(N, seed)  # x_T [N, G, C, h, w]
        latent_mask = None if batch.mask is None else bb.latent_mask(batch.mask, shape)  # [N, 1, h, w]
        with weights or contextlib.nullcontext():
            cond = bb.encode_condition(batch)  # N rows
            sigmas = bb.sigmas(self.solver.steps, shape)  # [K + 1]
            capture = bb.capture_attention(attention_layers) if attention_layers else contextlib.nullcontext(None)
            with capture as maps:
                final, states = integrate(
                    bb, self.solver, noise.x_T.flatten(0, 1), cond.repeat_interleave(G), sigmas, keep_states=keep_states
                )  # [N·G, C, h, w], [K + 1, N·G, C, h, w]
            images = bb.decode(final)  # [N·G, 3, H, W]
            src = bb.encode_images(batch.source) if source_latents else None  # [N, C, h, w]
        rollout = Rollout(
            cond=cond, sigmas=sigmas, noise=noise, final=final.view(N, G, *shape),
            states=None if states is None else states.view(states.shape[0], N, G, *shape),
            latent_mask=latent_mask, source_latents=src,
            token_mask=bb.token_mask(latent_mask, shape) if attention_layers and latent_mask is not None else None,
        )
        return WorldRollout(batch=batch, rollout=rollout, images=images, attention=maps)

    def reward_inputs(self, requires: frozenset[str] | set[str], *, attention_layers: int = 1, seed: int = 0):
        """:class:`RewardInputs` for a reward requiring ``requires``, built by the engine's own ``build_inputs``
        from a rollout of the world (rows group-major, unrequested fields None)."""
        needs = frozenset(requires)
        layers = attention_layers if "attention" in needs else 0
        rolled = self.rollout(seed=seed, keep_states=False, attention_layers=layers)
        inputs: RewardInputs = build_inputs(
            needs, rolled.batch, self.group_size, rolled.rollout.final, rolled.images, rolled.attention,
            rolled.rollout.token_mask, layers,
        )  # token_mask [N, n_img] with attention
        return inputs

    # -- training ------------------------------------------------------------------------------------------------
    def train_context(self, *, policy: SurrogatePolicy | None = None, seed: int = 0, rank: int = 4) -> TrainContext:
        """A :class:`TrainContext` over a fresh copy of the backbone with a rank-``rank`` LoRA attached (peft, through
        the engine's controller; its A matrices drawn from a seeded RNG), the world's solver and ``policy``."""
        backbone = self.fresh_backbone()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            lora = LoraController(backbone.denoiser, lora_config(LoraSettings(rank=rank, alpha=rank), backbone))

        @torch.no_grad()
        def base_velocity(x, sigma, cond):
            with lora.disabled():
                return backbone.velocity(x, sigma, cond)

        return TrainContext(
            backbone=backbone, solver=self.solver, policy=policy, generator=torch.Generator().manual_seed(seed),
            lora=lora, base_velocity=base_velocity,
        )


@functools.cache
def default_world() -> ToyWorld:
    """The shared default :class:`ToyWorld` over every installed plugin (built once per process)."""
    return ToyWorld()
