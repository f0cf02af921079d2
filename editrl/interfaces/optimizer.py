"""Policy-optimisation algorithms (GRPO-clip, DiffusionNFT, ...): from a rollout and its advantages to a loss.

The engine owns the backward pass and the AdamW step. An optimiser yields its objective in chunks (e.g. one per
anchor and trained step) so that large backbones never hold the whole step's graph; the engine back-propagates each
chunk as it comes.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import torch

from editrl.component import Component
from editrl.interfaces.backbone import Backbone, Condition
from editrl.interfaces.exploration import InitialNoise
from editrl.interfaces.policy import SurrogatePolicy
from editrl.interfaces.solver import Solver


@dataclass
class Rollout:
    """What the θ_old rollout of one step produced. N examples, G candidates, K solver steps."""

    cond: Condition  # N rows, encoded once per example
    sigmas: torch.Tensor  # [K + 1] float32
    noise: InitialNoise  # x_T [N, G, C, h, w] and the reference index
    final: torch.Tensor  # [N, G, C, h, w] x_0 of every candidate
    states: torch.Tensor | None = None  # [K + 1, N, G, C, h, w] when the optimiser ``needs_states``
    # [N, 1, h, w] 1 = edit, when the dataset has masks; already dilated by the exploration's ``mask_dilate``
    latent_mask: torch.Tensor | None = None
    token_mask: torch.Tensor | None = None  # [N, n_img] 1 = edit token, from ``latent_mask``, when attention is captured
    source_latents: torch.Tensor | None = None  # [N, C, h, w] when a component requires "source_latents"

    @property
    def group_size(self) -> int:
        return self.final.shape[1]


@dataclass
class TrainContext:
    """What an optimiser or regulariser may use during a step."""

    backbone: Backbone
    solver: Solver
    policy: SurrogatePolicy | None
    generator: torch.Generator  # the run's RNG for anchors, step subsets, fresh noise (checkpointed)
    lora: Any  # editrl.engine.lora.LoraController: disable / switch / copy adapters
    base_velocity: Callable[[torch.Tensor, torch.Tensor, Condition], torch.Tensor]  # v with LoRA disabled, no grad


@dataclass
class ChunkTensors:
    """The optimiser → regulariser contract: what one loss chunk's R rows carry.

    Every chunk has the first four fields. The optional ones are filled where the optimiser forms them, and their
    names (:data:`CHUNK_FIELDS`) are the vocabulary of an optimiser's ``provides`` and a regulariser's ``requires``:
    ``editrl validate`` refuses a regulariser that needs a field the recipe's optimiser does not provide.
    """

    rows: torch.Tensor  # [R] int64, the example index n (into the rollout's N) of each row
    x: torch.Tensor  # [R, C, h, w] the state x_σ the trained velocity was evaluated at (no grad)
    sigma: torch.Tensor  # [R] float32 noise level of each row
    cond: Condition  # R rows
    velocity: torch.Tensor | None = None  # [R, C, h, w] v_θ(x_σ, σ, c), with grad
    x0: torch.Tensor | None = None  # [R, C, h, w] the clean rollout sample the row was noised from (no grad)
    x0_pos: torch.Tensor | None = None  # [R, C, h, w] x̂⁺_0 of the implicit positive policy, with grad
    x0_neg: torch.Tensor | None = None  # [R, C, h, w] x̂⁻_0 of the implicit negative policy, with grad
    optimality: torch.Tensor | None = None  # [R] r ∈ [0, 1], the weight of the positive branch (1 − r: negative)

    def need(self, name: str) -> torch.Tensor:
        """The optional field ``name``; a clear error if the optimiser left it empty (validation checks this)."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"loss chunk field {name!r} is empty: the optimiser does not provide it")
        return value


#: Names an optimiser may ``provide`` and a regulariser may ``require`` from a chunk (the optional fields).
CHUNK_FIELDS = frozenset(f.name for f in fields(ChunkTensors) if f.default is None)


@dataclass
class LossChunk:
    """One piece of a step's objective. The chunks' ``loss`` values add up to the step's objective."""

    loss: torch.Tensor  # scalar
    share: float  # this chunk's share of the step (shares add up to 1); regularisers are scaled by it
    tensors: ChunkTensors  # what regularisers read; its filled optional fields are the optimiser's ``provides``
    stats: dict[str, float] = field(default_factory=dict)  # diagnostics, averaged over chunks by share


class PolicyOptimizer(Component):
    """Turns a rollout and its rewards into a differentiable objective."""

    kind: ClassVar[str] = "optimizer"
    #: Store every solver state of the rollout (GRPO's leaping policy) or only the final sample (DiffusionNFT).
    needs_states: ClassVar[bool] = True
    #: Needs a surrogate ``policy`` in the recipe.
    needs_policy: ClassVar[bool] = False
    #: The optional :class:`ChunkTensors` fields (names in :data:`CHUNK_FIELDS`) this optimiser's chunks fill.
    provides: ClassVar[frozenset[str]] = frozenset()
    #: Example or engine fields this optimiser needs (see ``editrl.requirements``).
    requires: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.provides) - CHUNK_FIELDS
        if unknown:
            raise TypeError(
                f"{cls.__name__}.provides names {sorted(unknown)}, which are not loss chunk fields "
                f"(expected some of {sorted(CHUNK_FIELDS)})"
            )

    def setup(self, ctx: TrainContext) -> None:
        """Called once after LoRA is attached (e.g. to create a non-trained copy of the adapter). A resumed run calls
        it before the checkpoint is loaded: what it creates is then overwritten by :meth:`load_state_dict`."""

    @abstractmethod
    def advantages(self, rewards: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """``rewards [N, G]`` (already a weighted sum of standardised terms) → advantages ``[N, G]`` and stats."""

    @abstractmethod
    def loss_chunks(self, ctx: TrainContext, rollout: Rollout, advantages: torch.Tensor) -> Iterator[LossChunk]:
        """Yield the objective in chunks; each chunk's graph is back-propagated and freed before the next."""

    def rollout_weights(self, ctx: TrainContext) -> contextlib.AbstractContextManager:
        """The weights rollouts run under (θ_old). Default: the current weights."""
        return contextlib.nullcontext()

    def after_update(self, ctx: TrainContext, step: int) -> None:
        """Called after each optimiser step (e.g. to move θ_old towards θ)."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint besides the trained LoRA weights."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
