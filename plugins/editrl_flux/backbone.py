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
and unpacks. The velocity comes back in the dtype of ``x``. Loading, placement, the schedule and the timestep, the VAE,
capture and the LoRA export are the shared :class:`editrl.diffusers.DiffusersBackbone`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from pydantic import Field
from torch import nn

from editrl.diffusers import DiffusersBackbone, DiffusersBackboneConfig
from editrl.diffusers.packing import pack, unpack
from editrl.diffusers.vae import ShiftScaleCodec
from editrl.interfaces import Condition, EditBatch, shared_field
from editrl_flux.loading import SPEC, parameter_counts

__all__ = ["FluxCondition", "FluxKontext", "FluxKontextConfig", "grid_ids", "pack", "pipeline_kwargs", "unpack"]

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


class FluxKontextConfig(DiffusersBackboneConfig):
    model: str = Field("black-forest-labs/FLUX.1-Kontext-dev", min_length=1)
    """Hub id or local folder in the diffusers layout (model_index.json, transformer/, vae/, text_encoder/,
    text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/)."""
    guidance: float = Field(2.5, ge=0.0, le=30.0)
    """Distilled guidance scale fed to the guidance embedding (FluxKontextPipeline's ``guidance_scale``; 2.5 in its
    examples). Ignored by models without guidance embedding."""
    max_sequence_length: int = Field(512, ge=8, le=512)
    """T5 tokens, padding included (the pipeline pads to this length; padding tokens are kept in the sequence, as
    the pipeline does, and excluded only from attention capture)."""


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


class FluxKontext(DiffusersBackbone):
    """FLUX.1 Kontext-dev (diffusers): exact pipeline rollouts, LoRA on attention, attention capture, diffusers export."""

    name = "flux_kontext"
    Config: ClassVar[type[FluxKontextConfig]] = FluxKontextConfig
    default_lora_targets: ClassVar[tuple[str, ...]] = ATTENTION_PROJECTIONS
    component_names: ClassVar[tuple[str, ...]] = (
        "transformer", "scheduler", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2",
    )
    encoder_names: ClassVar[tuple[str, ...]] = ("vae", "text_encoder", "text_encoder_2")
    codec_class = ShiftScaleCodec
    condition_class = FluxCondition
    condition_fields: ClassVar[tuple[str, ...]] = ("dtype", "resolution", "max_sequence_length", "guidance")

    spec = SPEC

    parameter_counts = staticmethod(parameter_counts)

    def _component_classes(self) -> dict[str, type]:
        from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
        from transformers import CLIPTextModel, CLIPTokenizer, T5EncoderModel, T5TokenizerFast

        return dict(
            transformer=FluxTransformer2DModel, vae=AutoencoderKL, text_encoder=CLIPTextModel,
            text_encoder_2=T5EncoderModel, tokenizer=CLIPTokenizer, tokenizer_2=T5TokenizerFast,
            scheduler=FlowMatchEulerDiscreteScheduler,
        )

    def pipeline_class(self) -> type:
        from diffusers import FluxKontextPipeline

        return FluxKontextPipeline

    # -- geometry --------------------------------------------------------------------------------------------
    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # -- encoders --------------------------------------------------------------------------------------------
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

    @torch.no_grad()
    def encode_condition(self, batch: EditBatch) -> FluxCondition:
        self._require_encoders("encode_condition")
        source = self._to_working_size(batch.source.to(self.device))
        with self._on_device(self.text_encoder, self.text_encoder_2, self.vae):
            prompt_embeds, text_mask, pooled = self._encode_text(list(batch.instructions))
            ref = self.codec.encode(source, self.device)  # [N, C, h, w] normalised, in the VAE's dtype
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
    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, cond: FluxCondition) -> torch.Tensor:
        _, _, h, w = x.shape
        self._check_latents(x, cond.prompt_embeds.shape[0], cond.grid)
        dtype = cond.prompt_embeds.dtype  # latents dtype in the pipeline
        latents = pack(x.to(device=self.device, dtype=dtype))  # [M, N, 4C]
        n_img = latents.shape[1]
        self._capture.arm(cond.prompt_embeds.shape[1], n_img, cond.text_mask)
        try:
            out = self.denoiser(
                hidden_states=torch.cat([latents, cond.ref_latents], dim=1),  # [M, N + R, 4C]
                timestep=self._timestep(sigma, dtype),
                guidance=cond.guidance,
                pooled_projections=cond.pooled,
                encoder_hidden_states=cond.prompt_embeds,
                txt_ids=cond.txt_ids,
                img_ids=cond.img_ids,
                joint_attention_kwargs={},
                return_dict=False,
            )[0]
        finally:
            self._capture.disarm()
        return unpack(out[:, :n_img], h, w).to(x.dtype)

    # -- attention capture -----------------------------------------------------------------------------------
    def _capture_blocks(self) -> tuple[list[tuple[str, nn.Module]], type]:
        from editrl_flux.attention import FluxCaptureAttnProcessor, attention_modules_in_order

        return attention_modules_in_order(self.transformer), FluxCaptureAttnProcessor
