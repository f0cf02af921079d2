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
from typing import TYPE_CHECKING, ClassVar, Literal, Self

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import nn

from editrl.component import Component, ComponentConfig
from editrl.interfaces.dataset import EditBatch

if TYPE_CHECKING:
    from editrl.data.inspection import ExampleInfo


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

    def split(self) -> list[Self]:
        """One condition of one row per example, as the condition cache stores them (``collate`` joins them back).
        Backbones whose rows are padded to the batch's longest (e.g. a text sequence) trim each row here."""
        sizes = [getattr(self, f.name).shape[0] for f in dataclasses.fields(self) if _per_row_tensor(self, f)]
        if not sizes:
            raise ValueError(f"{type(self).__name__}.split: no per-row tensor field says how many rows it has")
        return [self.index(torch.tensor([i])) for i in range(sizes[0])]

    @classmethod
    def collate(cls, rows: list[Self]) -> Self:
        """The batch condition of ``rows`` (each from :meth:`split`), equal to encoding their examples together:
        per-row tensors concatenated in order, shared fields and values taken from the first row (ValueError when
        the rows disagree, e.g. different image sizes)."""
        first, changes = rows[0], {}
        for f in dataclasses.fields(first):
            if _per_row_tensor(first, f):
                changes[f.name] = torch.cat([getattr(r, f.name) for r in rows])
            elif any(not _same(getattr(r, f.name), getattr(first, f.name)) for r in rows[1:]):
                raise ValueError(f"{cls.__name__}.collate: the rows' {f.name!r} differ; they cannot share a batch")
        return dataclasses.replace(first, **changes)


def _per_row_tensor(cond: Condition, f: dataclasses.Field) -> bool:
    return isinstance(getattr(cond, f.name), torch.Tensor) and f.metadata.get("per_row", True)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b.to(a.device))
    return a == b


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


class BackboneConfig(ComponentConfig):
    """Fields the engine reads from every backbone's config (a backbone's ``Config`` inherits them)."""

    condition_cache: Literal["off", "memory", "disk"] = "off"
    """Encode each example's condition once instead of once per step. off: encode every step; memory: encode on
    first use and keep it in RAM for the process's life; disk: safetensors shards in ``condition_cache_dir``, shared
    by every run and process and filled ahead by `editrl data encode RECIPE`. When the disk cache holds every train
    and evaluation example, the text/VL encoders and the VAE encoder are not loaded at all."""
    condition_cache_dir: str | None = Field(None, min_length=1)
    """Folder of the disk cache. None: $EDITRL_CACHE_DIR, else ~/.cache/editrl/conditions (one folder shared by
    every run: entries are keyed by backbone, weights, encoder settings and the example's contents)."""

    @field_validator("condition_cache", mode="before")
    @classmethod
    def _yaml_off(cls, value):
        return "off" if value is False else value  # YAML 1.1 reads a bare `off` as false


class Backbone(Component):
    """An instruction-guided editor that predicts velocity ``v ≈ ε − x_0`` (rectified flow, σ from 1 to 0).

    Capabilities are declared in ``capabilities``; ``"attention"`` means :meth:`capture_attention` works.
    """

    kind: ClassVar[str] = "backbone"
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Module-name patterns peft's LoRA attaches to when the recipe names none.
    default_lora_targets: ClassVar[tuple[str, ...]] = ()
    #: The :class:`Condition` subclass ``encode_condition`` returns: the condition cache stores its fields (tensors
    #: as safetensors, other values as JSON) and rebuilds it.
    condition_class: ClassVar[type[Condition]] = Condition
    #: The :class:`editrl.cache.ConditionCache` the engine installs when the recipe caches conditions; else None.
    condition_cache = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    @abstractmethod
    def load(self, device: torch.device, encoders: bool = True) -> None:
        """Load weights and move to ``device``. Raise :class:`editrl.errors.ResourceError` if they cannot be had.

        ``encoders=False`` (the engine passes it when the condition cache holds every example): leave out what only
        ``encode_condition`` and ``encode_images`` use (text/VL encoders, the VAE encoder); the decoder stays."""

    def condition_key(self) -> dict | None:
        """What every condition of this backbone depends on besides the example, as JSON values: its weights'
        fingerprint and its encoder settings (sequence length, resolution, template...). Called before :meth:`load`.
        None (the default): conditions cannot be cached."""
        return None

    def encoder_bytes(self) -> int:
        """Bytes of the parameters ``load(device, encoders=False)`` leaves out (for the start-up report)."""
        return 0

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

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """``(H, W)`` a source image of ``height × width`` is resized to before this editor edits it (``editrl edit``
        resizes a user's image to it, and says so). Default: unchanged, for editors of any size."""
        return height, width

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

    # -- data check ------------------------------------------------------------------------------------------
    def check_example(self, info: ExampleInfo) -> list[str]:
        """Why this backbone cannot edit an example the dataset describes (``info.shape``: the image size after the
        dataset's resize; ``info.instruction``), one message per reason naming what is expected. Called on every
        example before any weight loads, so it must not need :meth:`load`. Default: accepts everything."""
        return []

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
