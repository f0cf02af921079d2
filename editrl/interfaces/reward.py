"""Rewards: score a batch of final samples. Each declares what it needs so the engine computes only that."""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from pydantic import Field

from editrl.component import Component, ComponentConfig
from editrl.errors import EditrlError

#: Everything a reward may ask for. Example fields must be provided by the dataset, ``attention`` by the backbone.
REWARD_INPUTS = frozenset(
    {"images", "latents", "source", "mask", "target", "description", "instruction", "attention"}
)


@dataclass
class RewardInputs:
    """M rows, group-major (example n's candidates are rows n·G .. n·G+G−1). Unrequested fields are None."""

    tasks: list[str]
    images: torch.Tensor | None = None  # [M, 3, H, W] decoded samples in [0, 1]
    latents: torch.Tensor | None = None  # [M, C, h, w] final latents
    source: torch.Tensor | None = None  # [M, 3, H, W]
    mask: torch.Tensor | None = None  # [M, 1, H, W] 1 = edit
    target: torch.Tensor | None = None  # [M, 3, H, W]
    instructions: list[str] | None = None
    descriptions: list[str] | None = None
    attention: list[torch.Tensor] | None = None  # per (forward, layer): [M, n_img] text→target attention
    token_mask: torch.Tensor | None = None  # [M, n_img] 1 = edit token (with ``attention``)


@dataclass
class RewardOutput:
    """What a reward returns for M rows.

    A row the reward could not score (a judge's request failed, its answer did not parse) is marked in ``valid`` with
    its reason in ``reasons``; its ``values`` entry is ignored (conventionally NaN). The engine leaves invalid rows out
    of every statistic: standardisation, group advantages, logged means.
    """

    values: torch.Tensor  # [M] float32, the reward used for training
    details: dict[str, torch.Tensor] = field(default_factory=dict)  # named [M] sub-scores, logged and evaluated
    counters: dict[str, float] = field(default_factory=dict)  # e.g. degenerate inputs seen
    valid: torch.Tensor | None = None  # [M] bool, None = every row valid
    reasons: list[str | None] | None = None  # [M] why each invalid row is invalid (None on valid rows)

    @property
    def valid_mask(self) -> torch.Tensor:
        """``[M]`` bool, True where the row was scored."""
        if self.valid is None:
            return torch.ones(self.values.shape[0], dtype=torch.bool)
        return self.valid.detach().cpu().bool()

    def invalid_counts(self) -> dict[str, int]:
        """Invalid rows per reason (``"unspecified"`` when the reward gave none)."""
        counts: dict[str, int] = {}
        mask = self.valid_mask
        for i in torch.nonzero(~mask).flatten().tolist():
            reason = (self.reasons[i] if self.reasons is not None else None) or "unspecified"
            counts[reason] = counts.get(reason, 0) + 1
        return counts

    @staticmethod
    def concat(parts: list[RewardOutput]) -> RewardOutput:
        """The outputs of consecutive row ranges as one output (counters add up)."""
        M = [p.values.shape[0] for p in parts]
        any_invalid = any(p.valid is not None for p in parts)
        counters: dict[str, float] = {}
        for p in parts:
            for k, v in p.counters.items():
                counters[k] = counters.get(k, 0.0) + float(v)
        return RewardOutput(
            values=torch.cat([p.values.detach().float().cpu() for p in parts]),  # [ΣM]
            details={k: torch.cat([p.details[k].detach().float().cpu() for p in parts]) for k in parts[0].details},
            counters=counters,
            valid=torch.cat([p.valid_mask for p in parts]) if any_invalid else None,
            reasons=[r for p, m in zip(parts, M) for r in (p.reasons or [None] * m)] if any_invalid else None,
        )

    def log(self, prefix: str) -> dict[str, float]:
        """Flat metric keys: ``prefix/mean``, ``prefix/<detail>`` (over valid rows), ``prefix/invalid/<reason>``."""
        if self.valid is None:
            out = {f"{prefix}/mean": float(self.values.float().mean())}
            out.update({f"{prefix}/{k}": float(v.float().mean()) for k, v in self.details.items()})
        else:
            keep = self.valid_mask
            mean = lambda v: float(v.detach().float().cpu()[keep].mean()) if keep.any() else math.nan  # noqa: E731
            out = {f"{prefix}/mean": mean(self.values)}
            out.update({f"{prefix}/{k}": mean(v) for k, v in self.details.items()})
            out[f"{prefix}/invalid_rows"] = float((~keep).sum())
            out.update({f"{prefix}/invalid/{k}": float(n) for k, n in self.invalid_counts().items()})
        out.update({f"{prefix}/{k}": float(v) for k, v in self.counters.items()})
        return out


class RewardUnavailable(EditrlError):
    """A reward's service has been unreachable for longer than the reward tolerates.

    Raised from :meth:`Reward.score`; the trainer saves a checkpoint of the last finished step and stops with a
    message that says how to resume.
    """


class RewardConfig(ComponentConfig):
    weight: float = Field(1.0, ge=0.0)
    """Weight of this term in the total reward (each term is standardised over the minibatch first)."""


class Reward(Component):
    """Scores final samples; higher is better."""

    kind: ClassVar[str] = "reward"
    Config: ClassVar[type[RewardConfig]] = RewardConfig
    requires: ClassVar[frozenset[str]] = frozenset({"images"})

    @property
    def weight(self) -> float:
        return self.config.weight

    @property
    def overlaps(self) -> bool:
        """True for a reward that waits on a remote service and scores rows independently (a served judge): the
        engine then sends each rollout micro-batch's rows as soon as they are decoded, from a worker thread, while
        the remaining rollouts and the local rewards run. Local rewards keep the default (scored on the main thread
        once every rollout is done)."""
        return False

    @property
    def attention_layers(self) -> int:
        """With ``"attention"`` in ``requires``: how many of the backbone's last attention layers to capture."""
        return 0

    def lower_is_better(self, detail: str | None = None) -> bool:
        """Whether a lower score is the better one, for the value (``detail`` None) or one of the details: what
        evaluation tables say of each column. False by default (a reward is maximised); a metric that reports a
        distance, such as LPIPS, returns True."""
        return False

    def load(self, device: torch.device) -> None:
        """Load any model the reward uses, or check that its server answers (called once, before the first step)."""

    @abstractmethod
    def score(self, inputs: RewardInputs) -> RewardOutput:
        """Score M samples."""
