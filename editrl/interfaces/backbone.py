"""The editor being post-trained: a flow-matching velocity network with its encoders and decoder.

Latents travel through editrl in the backbone's *grid* layout ``[M, C, h, w]`` so that latent masks broadcast over
channels; backbones that run on packed token sequences (FLUX, Qwen-Image) pack and unpack inside ``velocity``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Self

import torch
import torch.nn.functional as F
from torch import nn

from editrl.component import Component
from editrl.interfaces.dataset import EditBatch


@dataclasses.dataclass
class Condition:
    """The encoded editing condition, one row per example. Backbones subclass this with their own tensors.

    Encoded once per example and shared by the whole group: ``repeat_interleave(G)`` expands it to the group's rows
    without calling an encoder again.
    """

    def _map(self, fn) -> Self:
        changes = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor) and f.metadata.get("per_row", True):
                changes[f.name] = fn(value)
        return dataclasses.replace(self, **changes)

    def repeat_interleave(self, repeats: int) -> Self:
        """Rows ``[n0, n0, .., n1, n1, ..]``: each example's condition ``repeats`` times, group-major."""
        return self._map(lambda t: t.repeat_interleave(repeats, dim=0))

    def index(self, rows: torch.Tensor) -> Self:
        """Select rows (a 1-D index tensor)."""
        return self._map(lambda t: t.index_select(0, rows.to(t.device)))

    def detach(self) -> Self:
        return self._map(lambda t: t.detach())


def dilate_mask(mask: torch.Tensor, cells: int) -> torch.Tensor:
    """Grid mask ``[N, 1, h, w]`` (1 = edit) dilated by ``cells`` in every direction (a (2·cells + 1)² square; the
    border is not padded with edit). ``cells = 0`` returns the mask as float. The engine's only dilation (docs/method.md §0):
    it runs once per step on the latent mask, before the exploration, the policy and the token mask read it."""
    mask = mask.float()  # [N, 1, h, w]
    if cells == 0:
        return mask
    return F.max_pool2d(mask, kernel_size=2 * cells + 1, stride=1, padding=cells)  # [N, 1, h, w]


def shared_field(**kwargs):
    """A Condition field that is not per-row (e.g. position ids shared by every row); never repeated or indexed."""
    return dataclasses.field(metadata={"per_row": False}, **kwargs)


class Backbone(Component):
    """An instruction-guided editor that predicts velocity ``v ≈ ε − x_0`` (rectified flow, σ from 1 to 0).

    Capabilities are declared in ``capabilities``; ``"attention"`` means :meth:`capture_attention` works.
    """

    kind: ClassVar[str] = "backbone"
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Module-name patterns peft's LoRA attaches to when the recipe names none.
    default_lora_targets: ClassVar[tuple[str, ...]] = ()

    # -- lifecycle -------------------------------------------------------------------------------------------
    @abstractmethod
    def load(self, device: torch.device) -> None:
        """Load weights and move to ``device``. Raise :class:`editrl.errors.ResourceError` if they cannot be had."""

    @property
    @abstractmethod
    def denoiser(self) -> nn.Module:
        """The velocity network; LoRA is attached to it and only its LoRA weights train."""

    @denoiser.setter
    @abstractmethod
    def denoiser(self, module: nn.Module) -> None:
        """Replace the network by a wrapped one (accelerate's ``prepare`` may return a DDP/FSDP wrapper)."""

    # -- the flow --------------------------------------------------------------------------------------------
    @abstractmethod
    def encode_condition(self, batch: EditBatch) -> Condition:
        """Encode source images and instructions, one row per example. Called once per example per step."""

    @abstractmethod
    def latent_shape(self, batch: EditBatch) -> tuple[int, int, int]:
        """``(C, h, w)`` of one target latent for this batch's images."""

    @abstractmethod
    def sigmas(self, num_steps: int, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """``[K + 1]`` float32 noise levels from the first (≈1) to 0, with the backbone's own shift."""

    @abstractmethod
    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, cond: Condition) -> torch.Tensor:
        """``x [M, C, h, w]``, ``sigma [M]`` float32, ``cond`` with M rows → velocity ``[M, C, h, w]``."""

    @abstractmethod
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """``[M, C, h, w]`` latents → ``[M, 3, H, W]`` images in [0, 1]."""

    @abstractmethod
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """``[M, 3, H, W]`` images in [0, 1] → ``[M, C, h, w]`` latents (the inverse of ``decode``)."""

    # -- masks -----------------------------------------------------------------------------------------------
    def latent_mask(self, pixel_mask: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """Pixel mask ``[N, 1, H, W]`` (1 = edit) → latent-grid mask ``[N, 1, h, w]`` by max-pool (docs/method.md §0)."""
        _, h, w = latent_shape
        return F.adaptive_max_pool2d(pixel_mask.float(), (h, w))

    def token_mask(self, mask: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """Edit mask ``[N, 1, H', W']`` → ``[N, n_img]`` mask over the target-image tokens, in the backbone's token
        order, by max-pool: a token is edit if any cell under it is. The engine passes the latent-grid mask after
        :func:`dilate_mask` (so tokens, noise and policy share one mask); a pixel mask gives the same tokens
        undilated."""
        raise NotImplementedError(f"backbone {self.name!r} has no token grid")

    # -- export --------------------------------------------------------------------------------------------------
    def export_lora(self, lora_state: dict[str, torch.Tensor], directory: Path) -> list[Path]:
        """Write the trained LoRA (peft keys of ``denoiser``) in the backbone's own ecosystem format, e.g. diffusers'
        ``pytorch_lora_weights.safetensors``. Called at each checkpoint and at the end. Returns the files written;
        backbones without an external format write nothing (editrl's own ``lora.safetensors`` is always written)."""
        return []

    # -- capabilities ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def capture_attention(self, last_layers: int) -> Iterator[list[torch.Tensor]]:
        """Capability ``"attention"``: while active, every forward appends, per captured layer, the text→target-image
        attention averaged over heads and real text tokens: one ``[M, n_img]`` tensor per (forward, layer)."""
        raise NotImplementedError(f"backbone {self.name!r} cannot capture attention")
        yield []  # pragma: no cover
