"""FLUX.1 Kontext-dev through diffusers: the ``flux_kontext`` backbone.

Everything the velocity depends on reproduces ``FluxKontextPipeline.__call__`` (diffusers 0.42.1) step for step, so
that an editrl rollout with the Euler solver equals ``pipe(image, prompt, latents=<packed x_T>, height=H, width=W,
max_area=H*W, _auto_resize=False, output_type="latent")``:

* the condition: CLIP pooled output (77 tokens) and T5 hidden states padded to ``max_sequence_length``, the source image
  normalised to [-1, 1], VAE-encoded with ``latent_dist.mode()``, shifted and scaled, then 2×2-packed; position ids
  ``[0, row, col]`` for the target grid and ``[1, row, col]`` for the reference grid; guidance ``full([M], g)``;
* the schedule: ``linspace(1, 1/K, K)``, the resolution shift ``mu`` from the *target* tokens only, the scheduler's own
  ``set_timesteps`` and its trailing 0;
* the call: ``timestep = (σ·1000).to(latents dtype) / 1000``, transformer input ``[target | reference]`` tokens, output
  sliced to the target tokens.

Latents travel through editrl in grid layout ``[M, C, h, w]`` (C = 16, h = H/8 for the real VAE); ``velocity`` packs
and unpacks. The velocity comes back in the dtype of ``x``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from editrl.component import ComponentConfig
from editrl.errors import ResourceError
from editrl.interfaces import Backbone, Condition, EditBatch, shared_field

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

#: peft target modules: the 8 attention projections of the dual-stream blocks (q, k, v, out for image and text) and
#: q, k, v of the single-stream blocks (their output projection is the fused ``proj_out`` shared with the MLP).
ATTENTION_PROJECTIONS = (
    "attn.to_q",
    "attn.to_k",
    "attn.to_v",
    "attn.to_out.0",
    "attn.add_q_proj",
    "attn.add_k_proj",
    "attn.add_v_proj",
    "attn.to_add_out",
)


class FluxKontextConfig(ComponentConfig):
    model: str = Field("black-forest-labs/FLUX.1-Kontext-dev", min_length=1)
    """Hub id or local folder in the diffusers layout (model_index.json, transformer/, vae/, text_encoder/,
    text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/)."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) when ``model`` is a hub id."""
    local_files_only: bool = False
    """Never contact the hub: use the local hub cache only (also implied by HF_HUB_OFFLINE=1)."""
    dtype: Literal["bf16", "fp16", "fp32"] = "bf16"
    """Weights and activations dtype of every component (the pipeline runs all of them in one dtype). bf16 for FLUX
    on a GPU (fp16 overflows in T5-XXL); fp32 for the tiny test model on a CPU."""
    resolution: int | None = Field(None, ge=16, le=4096)
    """None (default): generate at the sources' own size, so the dataset's resolution decides (sides must be
    multiples of 16; FLUX recipes use 512² data). A number: generate at an area of resolution² with the source's
    aspect ratio (sides snapped to multiples of 16, as the pipeline's ``max_area``), resizing sources (bilinear,
    antialiased) before encoding; decoded images then have that size, not the dataset's, so pixel rewards that compare
    with the source need data of that size too."""
    guidance: float = Field(2.5, ge=0.0, le=30.0)
    """Distilled guidance scale fed to the guidance embedding (FluxKontextPipeline's ``guidance_scale``; 2.5 in its
    examples). Ignored by models without guidance embedding."""
    max_sequence_length: int = Field(512, ge=8, le=512)
    """T5 tokens, padding included (the pipeline pads to this length; padding tokens are kept in the sequence, as
    the pipeline does, and excluded only from attention capture)."""
    gradient_checkpointing: bool = True
    """Recompute transformer blocks in the backward pass (needed to train FLUX at 512² in 80 GB)."""
    offload_encoders: bool = False
    """Keep T5, CLIP and the VAE on the CPU and move them to the GPU only while they encode or decode (saves ≈ 10 GB
    of GPU memory in bf16, costs a host→device copy of T5 each step)."""
    vae_batch_size: int = Field(4, ge=1, le=256)
    """Images per VAE encode/decode call (decoding G·N images of 512² at once would need tens of GB)."""


@dataclasses.dataclass
class FluxCondition(Condition):
    """One row per example (or per candidate after ``repeat_interleave``)."""

    prompt_embeds: torch.Tensor  # [M, T, joint_dim] T5 last hidden state, padding included
    pooled: torch.Tensor  # [M, pooled_dim] CLIP pooler output
    text_mask: torch.Tensor  # [M, T] bool, True = real T5 token (the tokenizer's attention mask)
    ref_latents: torch.Tensor  # [M, R, 4C] packed, normalised reference (source) latents
    guidance: torch.Tensor | None  # [M] float32, or None without guidance embedding
    txt_ids: torch.Tensor = shared_field()  # [T, 3] zeros
    img_ids: torch.Tensor = shared_field()  # [N + R, 3] target ids [0, r, c] then reference ids [1, r, c]
    grid: tuple[int, int] = (0, 0)  # (h, w) of the target latent grid these ids were made for


def pack(x: torch.Tensor) -> torch.Tensor:
    """``[M, C, h, w]`` → ``[M, (h/2)(w/2), 4C]``, token index ``r·(w/2) + c`` (``FluxKontextPipeline._pack_latents``)."""
    M, C, h, w = x.shape
    return x.reshape(M, C, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(M, (h // 2) * (w // 2), C * 4)


def unpack(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`pack` (``_unpack_latents`` on the latent grid)."""
    M, _, D = tokens.shape
    C = D // 4
    return tokens.reshape(M, h // 2, w // 2, C, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(M, C, h, w)


def grid_ids(h2: int, w2: int, first: float, device, dtype) -> torch.Tensor:
    """``[h2·w2, 3]`` position ids ``[first, row, col]`` in packing order (``_prepare_latent_image_ids``)."""
    ids = torch.zeros(h2, w2, 3)
    ids[..., 1] = ids[..., 1] + torch.arange(h2)[:, None]
    ids[..., 2] = ids[..., 2] + torch.arange(w2)[None, :]
    ids = ids.reshape(h2 * w2, 3)
    ids[:, 0] = first
    return ids.to(device=device, dtype=dtype)


def pipeline_kwargs(
    source: torch.Tensor, instruction: str, x_T: torch.Tensor, steps: int, *, guidance: float = 2.5,
    max_sequence_length: int = 512,
) -> dict:
    """Arguments of ``FluxKontextPipeline.__call__`` that reproduce editrl's Euler rollout of one example.

    Args:
        source: ``[3, H, W]`` in [0, 1], at the working size (what ``encode_condition`` encoded).
        x_T: ``[G, C, h, w]`` initial noises in editrl's grid layout (e.g. the evaluation noise of the example).

    ``pipe(**pipeline_kwargs(...), output_type="latent").images`` equals ``pack`` of editrl's final latents (exactly
    in fp32); with ``output_type="pt"`` it equals ``backbone.decode``. ``max_area`` and ``_auto_resize=False`` keep
    the pipeline at the working size (it otherwise rescales the output and the reference to about 1 MP).
    """
    H, W = source.shape[-2:]
    return dict(
        image=source[None], prompt=instruction, num_images_per_prompt=x_T.shape[0], latents=pack(x_T), height=H,
        width=W, max_area=H * W, _auto_resize=False, guidance_scale=guidance, num_inference_steps=steps,
        max_sequence_length=max_sequence_length,
    )


def _unwrap(module: nn.Module) -> nn.Module:
    while hasattr(module, "module") and isinstance(module.module, nn.Module):  # DDP / accelerate wrappers
        module = module.module
    return module


class FluxKontext(Backbone):
    """FLUX.1 Kontext-dev (diffusers): exact pipeline rollouts, LoRA on attention, attention capture, diffusers export."""

    name = "flux_kontext"
    Config: ClassVar[type[ComponentConfig]] = FluxKontextConfig
    capabilities: ClassVar[frozenset[str]] = frozenset({"attention"})
    default_lora_targets: ClassVar[tuple[str, ...]] = ATTENTION_PROJECTIONS

    def __init__(self, config: FluxKontextConfig) -> None:
        super().__init__(config)
        self.device: torch.device | None = None
        self.dtype = DTYPES[config.dtype]
        self._denoiser: nn.Module | None = None
        self.transformer = self.vae = self.text_encoder = self.text_encoder_2 = None
        self.tokenizer = self.tokenizer_2 = self.scheduler = None
        self.folder: Path | None = None
        self._capture = None  # editrl_flux.attention.CaptureState, made in load (it imports diffusers)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def load(self, device: torch.device) -> None:
        from editrl_flux.loading import check_device, resolve_folder

        cfg = self.config
        device = torch.device(device)
        configs = resolve_folder(cfg.model, cfg.revision, cfg.local_files_only, configs_only=True)
        check_device(configs, cfg.model, device, self.dtype, cfg.offload_encoders)
        folder = resolve_folder(cfg.model, cfg.revision, cfg.local_files_only, configs_only=False)
        try:
            self._install(device, **self._load_components(folder))
        except ResourceError:
            raise
        except torch.cuda.OutOfMemoryError as exc:
            raise ResourceError(
                f"backbone.model={cfg.model!r}: out of GPU memory while loading ({str(exc).splitlines()[0]}). Set "
                "backbone.offload_encoders=true or use a larger GPU (the FLUX recipes are sized for 80 GB). To try "
                "editrl on a CPU, run `editrl run recipes/toy/rc_grpo.yaml`."
            ) from None
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ResourceError(
                f"backbone.model={cfg.model!r}: loading the FLUX.1 Kontext components from {folder} failed "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}). The folder "
                "must hold a complete diffusers FluxKontextPipeline (`save_pretrained` layout). To try editrl on a "
                "CPU, run `editrl run recipes/toy/rc_grpo.yaml`."
            ) from None
        self.folder = folder

    def _load_components(self, folder: Path) -> dict[str, object]:
        from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
        from transformers import CLIPTextModel, CLIPTokenizer, T5EncoderModel, T5TokenizerFast

        path, dt = str(folder), self.dtype
        return dict(
            transformer=FluxTransformer2DModel.from_pretrained(path, subfolder="transformer", dtype=dt),
            vae=AutoencoderKL.from_pretrained(path, subfolder="vae", dtype=dt),
            text_encoder=CLIPTextModel.from_pretrained(path, subfolder="text_encoder", dtype=dt),
            text_encoder_2=T5EncoderModel.from_pretrained(path, subfolder="text_encoder_2", dtype=dt),
            tokenizer=CLIPTokenizer.from_pretrained(path, subfolder="tokenizer"),
            tokenizer_2=T5TokenizerFast.from_pretrained(path, subfolder="tokenizer_2"),
            scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(path, subfolder="scheduler"),
        )

    def _install(self, device: torch.device, *, transformer, scheduler, vae=None, text_encoder=None,
                 text_encoder_2=None, tokenizer=None, tokenizer_2=None, **_unused) -> None:
        """Freeze every component, put it where it runs, and make the transformer the denoiser."""
        from editrl_flux.attention import CaptureState

        cfg = self.config
        self.device = torch.device(device)
        self.transformer, self.scheduler, self.vae = transformer, scheduler, vae
        self.text_encoder, self.text_encoder_2 = text_encoder, text_encoder_2
        self.tokenizer, self.tokenizer_2 = tokenizer, tokenizer_2
        encoders_at = torch.device("cpu") if cfg.offload_encoders else self.device
        for module in (vae, text_encoder, text_encoder_2):
            if module is not None:
                module.requires_grad_(False)
                module.eval()
                module.to(encoders_at)
        transformer.requires_grad_(False)
        transformer.eval()  # no dropout anywhere; LoRA trains through eval-mode modules
        transformer.to(self.device)
        if cfg.gradient_checkpointing:
            transformer.enable_gradient_checkpointing()
        self._denoiser = transformer
        self._capture = CaptureState()

    @classmethod
    def from_components(cls, config: FluxKontextConfig, device: torch.device | str, **components) -> FluxKontext:
        """A loaded backbone around diffusers components already in memory, e.g. a pipeline's:
        ``FluxKontext.from_components(cfg, "cuda", **pipe.components)``. ``transformer`` and ``scheduler`` are needed;
        without encoders only ``velocity``/``sigmas``/capture work (the benchmark uses this)."""
        backbone = cls(config)
        backbone._install(torch.device(device), **components)
        return backbone

    @property
    def denoiser(self) -> nn.Module:
        if self._denoiser is None:
            raise RuntimeError("flux_kontext: call load(device) first")
        return self._denoiser

    @denoiser.setter
    def denoiser(self, module: nn.Module) -> None:
        self._denoiser = module
        self.transformer = _unwrap(module)

    # -- geometry --------------------------------------------------------------------------------------------
    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_channels(self) -> int:
        return self.transformer.config.in_channels // 4

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """Pixel size of the generated image for a source of ``height × width`` (the pipeline's ``max_area`` rule)."""
        multiple = self.vae_scale_factor * 2
        if self.config.resolution is None:
            if height % multiple or width % multiple:
                raise ValueError(
                    f"flux_kontext: source images of {height}×{width} are not multiples of {multiple}; set "
                    "backbone.resolution or resize the dataset"
                )
            return height, width
        area, aspect = self.config.resolution**2, width / height
        w = round((area * aspect) ** 0.5) // multiple * multiple
        h = round((area / aspect) ** 0.5) // multiple * multiple
        return h, w

    def latent_shape(self, batch: EditBatch) -> tuple[int, int, int]:
        h, w = self.working_size(*batch.source.shape[-2:])
        vsf = self.vae_scale_factor
        return (self.latent_channels, h // vsf, w // vsf)

    def _to_working_size(self, images: torch.Tensor) -> torch.Tensor:
        size = self.working_size(*images.shape[-2:])
        if tuple(images.shape[-2:]) == size:
            return images
        return F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)

    # -- encoders --------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _on_device(self, *modules: nn.Module) -> Iterator[None]:
        """With ``offload_encoders``, move ``modules`` to the device for the duration, then back to the CPU."""
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

    def _encode_text(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(prompt_embeds [N, T, D], text_mask [N, T] bool, pooled [N, P])`` as ``FluxKontextPipeline.encode_prompt``."""
        clip = self.tokenizer(
            prompts, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True,
            return_overflowing_tokens=False, return_length=False, return_tensors="pt",
        )
        pooled = self.text_encoder(clip.input_ids.to(self.text_encoder.device), output_hidden_states=False).pooler_output
        pooled = pooled.to(dtype=self.text_encoder.dtype, device=self.device)
        t5 = self.tokenizer_2(
            prompts, padding="max_length", max_length=self.config.max_sequence_length, truncation=True,
            return_length=False, return_overflowing_tokens=False, return_tensors="pt",
        )
        embeds = self.text_encoder_2(t5.input_ids.to(self.text_encoder_2.device), output_hidden_states=False)[0]
        embeds = embeds.to(dtype=self.text_encoder_2.dtype, device=self.device)
        return embeds, t5.attention_mask.to(self.device).bool(), pooled

    def _vae_encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] at working size → normalised grid latents (``_encode_vae_image``), in the VAE's dtype."""
        out = []
        shift, scale = self.vae.config.shift_factor, self.vae.config.scaling_factor
        for chunk in images.split(self.config.vae_batch_size):
            pixels = (2.0 * chunk.float() - 1.0).to(device=self.vae.device, dtype=self.vae.dtype)  # preprocess
            z = self.vae.encode(pixels).latent_dist.mode()
            out.append(((z - shift) * scale).to(self.device))
        return torch.cat(out)

    @torch.no_grad()
    def encode_condition(self, batch: EditBatch) -> FluxCondition:
        source = self._to_working_size(batch.source.to(self.device))
        with self._on_device(self.text_encoder, self.text_encoder_2, self.vae):
            prompt_embeds, text_mask, pooled = self._encode_text(list(batch.instructions))
            ref = self._vae_encode(source)  # [N, C, h, w]
        dtype = prompt_embeds.dtype  # the pipeline's latents and ids dtype
        _, h, w = self.latent_shape(batch)
        ref_ids = grid_ids(ref.shape[2] // 2, ref.shape[3] // 2, 1.0, self.device, dtype)
        target_ids = grid_ids(h // 2, w // 2, 0.0, self.device, dtype)
        guidance = None
        if self.transformer.config.guidance_embeds:
            guidance = torch.full([len(batch)], self.config.guidance, device=self.device, dtype=torch.float32)
        return FluxCondition(
            prompt_embeds=prompt_embeds,
            pooled=pooled,
            text_mask=text_mask,
            ref_latents=pack(ref),
            guidance=guidance,
            txt_ids=torch.zeros(prompt_embeds.shape[1], 3, device=self.device, dtype=self.text_encoder.dtype),
            img_ids=torch.cat([target_ids, ref_ids], dim=0),
            grid=(h, w),
        )

    # -- the flow --------------------------------------------------------------------------------------------
    def sigmas(self, num_steps: int, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        import numpy as np
        from diffusers import FlowMatchEulerDiscreteScheduler
        from diffusers.pipelines.flux.pipeline_flux_kontext import calculate_shift

        _, h, w = latent_shape
        scheduler = FlowMatchEulerDiscreteScheduler.from_config(self.scheduler.config)  # set_timesteps is stateful
        c = scheduler.config
        mu = calculate_shift(
            (h // 2) * (w // 2),  # target tokens only, as the pipeline (not the reference tokens)
            c.get("base_image_seq_len", 256),
            c.get("max_image_seq_len", 4096),
            c.get("base_shift", 0.5),
            c.get("max_shift", 1.15),
        )
        scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / num_steps, num_steps), mu=mu)
        return scheduler.sigmas.to(torch.float32).cpu()  # [K + 1], trailing 0

    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, cond: FluxCondition) -> torch.Tensor:
        M, _, h, w = x.shape
        if cond.prompt_embeds.shape[0] != M:
            raise ValueError(f"flux_kontext.velocity: x has {M} rows, the condition {cond.prompt_embeds.shape[0]}")
        if (h, w) != tuple(cond.grid):
            raise ValueError(f"flux_kontext.velocity: latents are {h}×{w}, the condition was made for {cond.grid}")
        dtype = cond.prompt_embeds.dtype  # latents dtype in the pipeline
        latents = pack(x.to(device=self.device, dtype=dtype))
        n_img = latents.shape[1]
        # scheduler.timesteps = sigmas * 1000 (float32); the pipeline casts t to the latents dtype, then divides
        timestep = (sigma.to(device=self.device, dtype=torch.float32) * 1000).to(dtype)
        state = self._capture
        state.armed = state.active
        if state.armed:
            state.txt_len, state.img_len, state.txt_mask = cond.prompt_embeds.shape[1], n_img, cond.text_mask
        try:
            out = self.denoiser(
                hidden_states=torch.cat([latents, cond.ref_latents], dim=1),
                timestep=timestep / 1000,
                guidance=cond.guidance,
                pooled_projections=cond.pooled,
                encoder_hidden_states=cond.prompt_embeds,
                txt_ids=cond.txt_ids,
                img_ids=cond.img_ids,
                joint_attention_kwargs={},
                return_dict=False,
            )[0]
        finally:
            state.armed = False  # gradient checkpointing re-runs blocks in backward: never record those
            state.txt_mask = None
        return unpack(out[:, :n_img], h, w).to(x.dtype)

    # -- pixels ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        shift, scale = self.vae.config.shift_factor, self.vae.config.scaling_factor
        out = []
        with self._on_device(self.vae):
            for chunk in latents.split(self.config.vae_batch_size):
                z = chunk.to(device=self.vae.device, dtype=self.vae.dtype) / scale + shift
                image = self.vae.decode(z, return_dict=False)[0]
                out.append((image * 0.5 + 0.5).clamp(0, 1).float().to(self.device))  # image_processor.denormalize
        return torch.cat(out)

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        with self._on_device(self.vae):
            return self._vae_encode(self._to_working_size(images.to(self.device))).float()

    # -- masks -----------------------------------------------------------------------------------------------
    def token_mask(self, pixel_mask: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """``[N, 1, H, W]`` (1 = edit) → ``[N, (h/2)(w/2)]``: a 2×2-packed token is edit if any pixel under it is."""
        _, h, w = latent_shape
        return F.adaptive_max_pool2d(pixel_mask.float(), (h // 2, w // 2)).flatten(1)

    # -- attention capture -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def capture_attention(self, last_layers: int) -> Iterator[list[torch.Tensor]]:
        from editrl_flux import attention

        if self._capture.active:
            raise RuntimeError("flux_kontext: attention capture is already active")
        saved = attention.install(self.transformer, self._capture, last_layers)
        records: list[torch.Tensor] = []
        self._capture.records = records
        try:
            yield records
        finally:
            self._capture.records = None
            self._capture.armed = False
            attention.restore(saved)

    # -- export ----------------------------------------------------------------------------------------------
    def export_lora(self, lora_state: dict[str, torch.Tensor], directory: Path) -> list[Path]:
        """``pytorch_lora_weights.safetensors`` in diffusers' format (keys ``transformer.<module>.lora_A.weight``, LoRA
        config in the metadata): ``FluxKontextPipeline.load_lora_weights(directory)`` loads it."""
        from diffusers import FluxKontextPipeline

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu").contiguous() for k, v in lora_state.items()}
        FluxKontextPipeline.save_lora_weights(
            str(directory), transformer_lora_layers=state, transformer_lora_adapter_metadata=self._lora_metadata(state)
        )
        return [directory / "pytorch_lora_weights.safetensors"]

    def _lora_metadata(self, state: dict[str, torch.Tensor]) -> dict:
        peft_config = getattr(self.transformer, "peft_config", None) or {}
        if "default" in peft_config:
            meta = peft_config["default"].to_dict()
        else:  # no adapter attached here: describe the weights themselves (alpha = rank, i.e. scale 1)
            ranks = {v.shape[0] for k, v in state.items() if k.endswith("lora_A.weight")}
            rank = max(ranks) if ranks else 0
            modules = sorted({k.rsplit(".lora_", 1)[0] for k in state})
            meta = {"r": rank, "lora_alpha": rank, "target_modules": modules}
        for key, value in list(meta.items()):
            if isinstance(value, (set, frozenset)):
                meta[key] = sorted(value)
        return meta
