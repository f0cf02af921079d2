""":class:`DiffusersBackbone`: what every backbone built from a diffusers pipeline's components shares.

A subclass names its :class:`~editrl.diffusers.loading.ModelSpec`, the classes of its components
(``_component_classes``, loaded by ``_load_components``),
counts its parameters from the configs (``parameter_counts``), and implements the condition and the velocity
(``encode_condition``, ``velocity``) and names its attention blocks and their capture processor (``_capture_blocks``).
This class does the rest: fail-fast loading, freezing and placing the components (encoders optionally offloaded to
the CPU between uses), unwrapping accelerate's wrappers, the working size, the schedule (μ from the target tokens),
the pipelines' timestep rounding, VAE encode/decode through the subclass's :class:`~editrl.diffusers.vae.VaeCodec`,
the packed token mask, attention capture and the diffusers-format LoRA export.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from editrl.diffusers import capture, loading
from editrl.diffusers.fingerprint import condition_fingerprint, parameter_bytes
from editrl.diffusers.packing import packed_token_mask
from editrl.diffusers.schedule import flow_sigmas
from editrl.diffusers.vae import VaeCodec
from editrl.errors import ResourceError
from editrl.interfaces import Backbone
from editrl.interfaces.backbone import BackboneConfig

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def unwrap(module: nn.Module) -> nn.Module:
    """The model inside DDP / accelerate wrappers (``.module`` chains)."""
    while hasattr(module, "module") and isinstance(module.module, nn.Module):
        module = module.module
    return module


class DiffusersBackboneConfig(BackboneConfig):
    """Fields every diffusers backbone has; subclasses add ``model`` (with their default) and their own."""

    revision: str | None = None
    """Hub revision (branch, tag or commit) when ``model`` is a hub id."""
    local_files_only: bool = False
    """Never contact the hub: use the local hub cache only (also implied by HF_HUB_OFFLINE=1)."""
    dtype: Literal["bf16", "fp16", "fp32"] = "bf16"
    """Weights and activations dtype of every component (the pipelines run all of them in one dtype). bf16 on a GPU;
    fp32 for the tiny test models on a CPU."""
    resolution: int | None = Field(None, ge=16, le=4096)
    """None (default): generate at the sources' own size, so the dataset's resolution decides (sides must be
    multiples of 2× the VAE factor, 16 for the real models). A number: generate at an area of resolution² with the
    source's aspect ratio (sides snapped down to those multiples), resizing sources (bilinear, antialiased) first;
    decoded images then have that size, so pixel rewards that compare with the source need data of that size too."""
    gradient_checkpointing: bool = True
    """Recompute transformer blocks in the backward pass (needed to train the full-sized models in 80 GB)."""
    offload_encoders: bool = False
    """Keep the text encoder(s) and the VAE on the CPU and move them to the GPU only while they encode or decode
    (saves their weights' GPU memory, costs a host→device copy of them each step)."""
    vae_batch_size: int = Field(4, ge=1, le=256)
    """Images per VAE encode/decode call (decoding G·N images of 512² at once would need tens of GB)."""


class DiffusersBackbone(Backbone):
    """Shared lifecycle and plumbing of the diffusers backbones (see the module docstring)."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"attention"})
    spec: ClassVar[loading.ModelSpec]
    #: Component names of the pipeline; ``transformer`` and ``scheduler`` are always needed.
    component_names: ClassVar[tuple[str, ...]] = ()
    #: The frozen networks that run only to encode/decode (offloaded with ``offload_encoders``).
    encoder_names: ClassVar[tuple[str, ...]] = ()
    codec_class: ClassVar[type[VaeCodec]]
    #: Whether the VAE is video-style (``[M, 3, 1, H, W]``).
    codec_frames: ClassVar[bool] = False
    #: Config fields the condition depends on (with the weights): part of the condition cache's key.
    condition_fields: ClassVar[tuple[str, ...]] = ("dtype", "resolution")

    def __init__(self, config: DiffusersBackboneConfig) -> None:
        super().__init__(config)
        self.device: torch.device | None = None
        self.dtype = DTYPES[config.dtype]
        self._denoiser: nn.Module | None = None
        for name in self.component_names:
            setattr(self, name, None)
        self.codec: VaeCodec | None = None
        self.folder: Path | None = None
        self._capture = capture.CaptureState()
        self.encoders_loaded = True

    # -- what a subclass provides ----------------------------------------------------------------------------
    @abstractmethod
    def parameter_counts(self, folder: Path) -> tuple[int, int]:
        """``(transformer, text encoders)`` parameter counts from the configs in ``folder`` (no weights read)."""

    @abstractmethod
    def _component_classes(self) -> dict[str, type]:
        """The class of every component (imported here, lazily), by subfolder name."""

    @property
    def text_encoder_names(self) -> tuple[str, ...]:
        """The whole networks only the condition uses (every encoder but the VAE, whose decoder stays)."""
        return tuple(n for n in self.encoder_names if n != "vae")

    def _load_components(self, folder: Path) -> dict[str, object]:
        """Every component from ``folder`` with its own class's ``from_pretrained``; the networks in ``self.dtype``.
        Loaded without encoders (``self.encoders_loaded`` False), the text/VL encoders are not read at all."""
        path = str(folder)
        skip = () if self.encoders_loaded else self.text_encoder_names
        return {
            name: cls.from_pretrained(path, subfolder=name, **({"dtype": self.dtype} if issubclass(cls, nn.Module) else {}))
            for name, cls in self._component_classes().items() if name not in skip
        }

    @abstractmethod
    def _capture_blocks(self) -> tuple[list[tuple[str, nn.Module]], type[capture.CaptureProcessor]]:
        """``(name, attention module)`` of every block, in the order capture counts "last layers", and the capture
        processor class (a :class:`~editrl.diffusers.capture.CaptureProcessor` of the blocks' default processor)."""

    @abstractmethod
    def pipeline_class(self) -> type:
        """The diffusers pipeline class whose ``save_lora_weights`` writes the export."""

    def _after_install(self) -> None:
        """Hook: set up what depends on the components (called at the end of ``_install``)."""

    # -- lifecycle -------------------------------------------------------------------------------------------
    def load(self, device: torch.device, encoders: bool = True) -> None:
        """Without ``encoders`` the text/VL encoders are never read and the VAE keeps only its decoder."""
        cfg = self.config
        device = torch.device(device)
        self.encoders_loaded = encoders
        configs = loading.resolve_folder(self.spec, cfg.model, cfg.revision, cfg.local_files_only, configs_only=True)
        n_transformer, n_encoders = self.parameter_counts(configs)
        loading.check_device(
            self.spec, cfg.model, device, self.dtype, n_transformer, n_encoders, cfg.offload_encoders or not encoders
        )
        folder = loading.resolve_folder(self.spec, cfg.model, cfg.revision, cfg.local_files_only, configs_only=False)
        try:
            self._install(device, **self._load_components(folder))
        except ResourceError:
            raise
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:  # OutOfMemoryError is a RuntimeError
            raise loading.load_failure(self.spec, cfg.model, folder, exc) from None
        if not encoders and self.vae is not None:
            for half in ("encoder", "quant_conv"):  # what only VAE encoding runs; the decoder stays for the images
                if getattr(self.vae, half, None) is not None:
                    setattr(self.vae, half, nn.Module())  # empty: no parameters (Qwen's VAE walks its modules)
        self.folder = folder

    def _require_encoders(self, what: str) -> None:
        if not self.encoders_loaded:
            raise RuntimeError(
                f"{self.name}.{what}: the backbone was loaded without its encoders (every condition was in the "
                "condition cache); load it with encoders=True to encode"
            )

    # -- the condition cache ---------------------------------------------------------------------------------
    def condition_settings(self) -> dict:
        """The config values the condition depends on (``condition_fields``)."""
        return {name: getattr(self.config, name) for name in self.condition_fields}

    def condition_key(self) -> dict:
        """The weights' fingerprint (the encoders' and VAE's files, the transformer's and the pipeline's configs),
        the encoder settings and the library versions; needs the configs only, not the weights."""
        cfg = self.config
        configs = loading.resolve_folder(self.spec, cfg.model, cfg.revision, cfg.local_files_only, configs_only=True)
        return condition_fingerprint(cfg.model, configs, self.encoder_names, self.spec.subfolders) | {
            "settings": self.condition_settings()
        }

    def encoder_bytes(self) -> int:
        """The text/VL encoders' parameters and the VAE encoder's, in ``self.dtype``, from the weight files' headers
        (exact once the weights are downloaded; the configs' estimate of the text encoders before)."""
        cfg = self.config
        folder = self.folder or loading.resolve_folder(
            self.spec, cfg.model, cfg.revision, cfg.local_files_only, configs_only=True
        )
        counted = parameter_bytes(folder, self.text_encoder_names, self.vae_encoder_prefixes, self.dtype)
        if counted is None:
            return self.parameter_counts(folder)[1] * loading.BYTES.get(self.dtype, 2)
        return counted

    #: State-dict prefixes of the VAE's encoding half.
    vae_encoder_prefixes: ClassVar[tuple[str, ...]] = ("encoder.", "quant_conv.")

    def _install(self, device: torch.device, **components) -> None:
        """Freeze every component, put it where it runs, and make the transformer the denoiser."""
        cfg = self.config
        self.device = torch.device(device)
        for name in self.component_names:
            setattr(self, name, components.get(name))
        if self.transformer is None or self.scheduler is None:
            raise ValueError(f"{self.name}: the transformer and the scheduler are needed")
        encoders_at = torch.device("cpu") if cfg.offload_encoders else self.device
        for name in self.encoder_names:
            module = getattr(self, name)
            if module is not None:
                module.requires_grad_(False)
                module.eval()
                module.to(encoders_at)
        transformer = self.transformer
        transformer.requires_grad_(False)
        transformer.eval()  # no dropout anywhere; LoRA trains through eval-mode modules
        transformer.to(self.device)
        if cfg.gradient_checkpointing:
            transformer.enable_gradient_checkpointing()
        self._denoiser = transformer
        self.codec = None if self.vae is None else self.codec_class(self.vae, cfg.vae_batch_size, frames=self.codec_frames)
        self._after_install()

    @classmethod
    def from_components(cls, config: DiffusersBackboneConfig, device: torch.device | str, **components):
        """A loaded backbone around diffusers components already in memory, e.g. a pipeline's:
        ``Cls.from_components(cfg, "cuda", **pipe.components)``. ``transformer`` and ``scheduler`` are needed; without
        encoders only ``velocity``/``sigmas``/capture work (the benchmarks use this)."""
        backbone = cls(config)
        backbone._install(torch.device(device), **components)
        return backbone

    @property
    def denoiser(self) -> nn.Module:
        if self._denoiser is None:
            raise RuntimeError(f"{self.name}: call load(device) first")
        return self._denoiser

    @denoiser.setter
    def denoiser(self, module: nn.Module) -> None:
        self._denoiser = module
        self.transformer = unwrap(module)

    @contextlib.contextmanager
    def _on_device(self, *modules: nn.Module | None) -> Iterator[None]:
        """With ``offload_encoders``, move ``modules`` to the device for the duration, then back to the CPU."""
        modules = tuple(m for m in modules if m is not None)
        if not self.config.offload_encoders or self.device.type == "cpu":
            yield
            return
        for m in modules:
            m.to(self.device)
        try:
            yield
        finally:
            for m in modules:
                m.to("cpu")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    # -- geometry --------------------------------------------------------------------------------------------
    @property
    @abstractmethod
    def vae_scale_factor(self) -> int:
        """Pixels per latent cell (8 for both real VAEs)."""

    @property
    def latent_channels(self) -> int:
        return self.transformer.config.in_channels // 4

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """Pixel size of the generated image for a source of ``height × width`` (the pipelines' area rule)."""
        multiple = self.vae_scale_factor * 2
        if self.config.resolution is None:
            if height % multiple or width % multiple:
                raise ValueError(
                    f"{self.name}: source images of {height}×{width} are not multiples of {multiple}; set "
                    "backbone.resolution or resize the dataset"
                )
            return height, width
        area, aspect = self.config.resolution**2, width / height
        w = round((area * aspect) ** 0.5) // multiple * multiple
        h = round((area / aspect) ** 0.5) // multiple * multiple
        return h, w

    def latent_shape(self, batch) -> tuple[int, int, int]:
        h, w = self.working_size(*batch.source.shape[-2:])
        vsf = self.vae_scale_factor
        return (self.latent_channels, h // vsf, w // vsf)

    # -- the flow --------------------------------------------------------------------------------------------
    def sigmas(self, num_steps: int, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        _, h, w = latent_shape
        return flow_sigmas(self.scheduler.config, num_steps, (h // 2) * (w // 2))  # μ from the target tokens only

    def _check_latents(self, x: torch.Tensor, rows: int, grid: tuple[int, int]) -> None:
        """Refuse latents ``x [M, C, h, w]`` whose rows or grid differ from the condition's (``rows``, ``grid``)."""
        M, _, h, w = x.shape
        if rows != M:
            raise ValueError(f"{self.name}.velocity: x has {M} rows, the condition {rows}")
        if (h, w) != tuple(grid):
            raise ValueError(f"{self.name}.velocity: latents are {h}×{w}, the condition was made for {grid}")

    def _timestep(self, sigma: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The transformer's ``timestep`` ``[M]`` for ``sigma`` as the pipelines compute it: scheduler.timesteps =
        sigmas * 1000 (float32), cast to the latents dtype, then divided by 1000."""
        return (sigma.to(device=self.device, dtype=torch.float32) * 1000).to(dtype) / 1000

    def _to_working_size(self, images: torch.Tensor) -> torch.Tensor:
        size = self.working_size(*images.shape[-2:])
        if tuple(images.shape[-2:]) == size:
            return images
        return F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)

    # -- pixels ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        with self._on_device(self.vae):
            return self.codec.decode(latents, self.device)  # [M, 3, H, W]

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        self._require_encoders("encode_images")
        with self._on_device(self.vae):
            return self.codec.encode(self._to_working_size(images.to(self.device)), self.device).float()

    # -- masks -----------------------------------------------------------------------------------------------
    def token_mask(self, mask: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """``[N, 1, H', W']`` (1 = edit; pixel or latent grid) → ``[N, (h/2)(w/2)]``: a 2×2-packed token is edit if
        any cell under it is."""
        return packed_token_mask(mask, latent_shape)

    # -- attention capture -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def capture_attention(self, last_layers: int) -> Iterator[list[torch.Tensor]]:
        if self._capture.active:
            raise RuntimeError(f"{self.name}: attention capture is already active")
        modules, processor = self._capture_blocks()
        saved = capture.install(
            modules, last_layers, processor.default(), lambda original: processor(self._capture, original), self.name
        )
        records: list[torch.Tensor] = []
        self._capture.records = records
        try:
            yield records
        finally:
            self._capture.records = None
            self._capture.disarm()
            capture.restore(saved)

    # -- export ----------------------------------------------------------------------------------------------
    def export_lora(self, lora_state: dict[str, torch.Tensor], directory: Path) -> list[Path]:
        """``pytorch_lora_weights.safetensors`` in diffusers' format (keys ``transformer.<module>.lora_A.weight``, LoRA
        config in the metadata): the pipeline's ``load_lora_weights(directory)`` loads it."""
        from editrl.diffusers.lora_export import export_lora

        return [export_lora(self.pipeline_class(), self.transformer, lora_state, directory)]
