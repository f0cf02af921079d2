"""Qwen-Image-Edit through diffusers: the ``qwen_image_edit`` backbone (Qwen/Qwen-Image-Edit, -2509, -2511).

Everything the velocity depends on reproduces ``QwenImageEditPipeline.__call__`` / ``QwenImageEditPlusPipeline.__call__``
(diffusers 0.42.1) step for step, so that an editrl Euler rollout equals ``pipe(image, prompt, latents=<packed x_T>,
height=H, width=W, output_type="latent")`` (:func:`pipeline_kwargs`):

* the source goes through the pipeline's ``VaeImageProcessor`` as a PIL image. Edit: resized to the reference size
  ``calculate_dimensions(reference_resolution², aspect)`` (1024² in the pipeline), which the VL encoder and the VAE
  both see. Plus: the VL encoder sees a copy at ``condition_resolution²`` (384²), the VAE one at the reference size;
* the condition: Qwen2.5-VL's last hidden state over the chat template (:mod:`editrl_qwen.prompt`), the reference
  latents ``latent_dist.mode()``, normalised per channel, 2×2-packed; ``img_shapes`` ``[(1, h/2, w/2), (1, h_r/2,
  w_r/2), ...]``; the text mask is None when no row is padded, as the pipeline's;
* the schedule: ``linspace(1, 1/K, K)``, μ from the target tokens only, the scheduler's ``set_timesteps`` (its
  terminal 0.02) and trailing 0; ``zero_cond_t`` transformers (2511) give reference tokens t = 0 by themselves;
* the call: ``timestep = (σ·1000).to(latents dtype) / 1000``, input ``[target | reference]`` tokens, output sliced to
  the target; with true CFG a second pass on the negative prompt and ``comb·‖pos‖/‖comb‖`` per token.

The encoders run once per example per step (the negative prompt in the same call when guided), never per candidate:
``encode_condition`` encodes N rows and the group repeats them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar, Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from editrl.diffusers import DiffusersBackbone, DiffusersBackboneConfig
from editrl.diffusers.packing import pack, unpack
from editrl.diffusers.vae import MeanStdCodec
from editrl.interfaces import Condition, EditBatch, shared_field
from editrl_qwen.loading import PIPELINES, SPEC, parameter_counts

#: peft target modules: the 8 attention projections of every dual-stream block (image q, k, v, out; text q, k, v, out).
ATTENTION_PROJECTIONS = (
    "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0",
    "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out",
)
#: The Plus pipeline's ``CONDITION_IMAGE_SIZE`` side (the VL encoder's copy of each image is ≈ 384² pixels).
PLUS_CONDITION_SIDE = 384


class QwenImageEditConfig(DiffusersBackboneConfig):
    model: str = Field("Qwen/Qwen-Image-Edit-2509", min_length=1)
    """Hub id or local folder in the diffusers layout (model_index.json, transformer/, vae/, text_encoder/,
    tokenizer/, processor/, scheduler/): Qwen/Qwen-Image-Edit (one source) or -2509 / -2511 (the Plus pipeline)."""
    pipeline: Literal["auto", "edit", "edit_plus"] = "auto"
    """Which pipeline's conditioning to reproduce. auto: the folder's model_index.json (from_components: edit_plus);
    edit: QwenImageEditPipeline's template and one ≈ 1 MP copy for the VL encoder and the VAE; edit_plus:
    QwenImageEditPlusPipeline's ``Picture 1:`` template, a 384² VL copy and a separate VAE copy."""
    cfg: Literal["off", "rollouts", "all"] = "off"
    """True classifier-free guidance. off: one conditional pass per velocity (how Edit-R1 and CoCoEdit roll out
    Qwen); rollouts: passes without gradients (rollouts, evaluation, the frozen base velocity) are guided, training
    passes are not (DiffusionNFT trains unguided; the leaping policy's ratio is then not 1 at θ = θ_old); all:
    every velocity is guided, two transformer passes, gradients through both."""
    true_cfg_scale: float = Field(4.0, ge=1.0, le=20.0)
    """The pipelines' ``true_cfg_scale`` s (4.0, their default): ``neg + s·(pos − neg)``, rescaled per token to the
    conditional norm. Used only when ``cfg`` is not off."""
    negative_prompt: str = " "
    """The negative prompt of true CFG (" ", as the diffusers docs suggest, when there is nothing to avoid)."""
    reference_resolution: int = Field(1024, ge=32, le=2048)
    """Side of the reference (VAE) image's area: the source is resized to ``calculate_dimensions(side², aspect)``
    (multiples of 32). 1024: the pipelines' fixed ≈ 1 MP. Smaller sides cut the reference tokens (1024 → 4096
    tokens, 512 → 1024) but then plain diffusers no longer reproduces the samples."""
    condition_resolution: int | None = Field(None, ge=32, le=2048)
    """Side of the VL encoder's image area. None: the pipeline's (Edit: the reference image itself; Plus: 384)."""

    @field_validator("cfg", mode="before")
    @classmethod
    def _yaml_off(cls, value):
        return "off" if value is False else value  # YAML 1.1 reads a bare `off` (backbone.cfg=off) as false


@dataclasses.dataclass
class QwenCondition(Condition):
    """One row per example (or per candidate after ``repeat_interleave``)."""

    prompt_embeds: torch.Tensor  # [M, T, D] Qwen2.5-VL last hidden state, system prefix dropped
    prompt_mask: torch.Tensor | None  # [M, T] bool, or None when no row is padded (as the pipeline)
    instruction_mask: torch.Tensor  # [M, T] bool, True = instruction token (ACD averages over these)
    ref_latents: torch.Tensor  # [M, R, 4C] packed, normalised reference latents (all references concatenated)
    negative_embeds: torch.Tensor | None = None  # [M, T', D] the negative prompt's, when guided
    negative_mask: torch.Tensor | None = None  # [M, T'] bool or None
    img_shapes: tuple = shared_field(default=())  # ((1, h/2, w/2), (1, h_r/2, w_r/2), ...) the RoPE frames
    grid: tuple[int, int] = (0, 0)  # (h, w) of the target latent grid

    def split(self) -> list[QwenCondition]:
        """Rows trimmed to their own prompt lengths (unpadded, so masks None): what the condition cache stores."""
        rows = []
        for i in range(self.prompt_embeds.shape[0]):
            row = self.index(torch.tensor([i]))
            t = _length(self.prompt_mask, i, self.prompt_embeds.shape[1])
            changes = dict(
                prompt_embeds=row.prompt_embeds[:, :t], prompt_mask=None, instruction_mask=row.instruction_mask[:, :t]
            )
            if self.negative_embeds is not None:
                n = _length(self.negative_mask, i, self.negative_embeds.shape[1])
                changes.update(negative_embeds=row.negative_embeds[:, :n], negative_mask=None)
            rows.append(dataclasses.replace(row, **changes))
        return rows

    @classmethod
    def collate(cls, rows: list[QwenCondition]) -> QwenCondition:
        """Rows of :meth:`split` padded as ``encode_condition`` pads a batch: zeros after each row's tokens, a mask
        only when some row is padded."""
        unpadded = dict(prompt_embeds=None, instruction_mask=None, negative_embeds=None)  # joined below
        first = super().collate([dataclasses.replace(r, **unpadded) for r in rows])  # ref_latents, shared fields
        embeds, mask = _pad([r.prompt_embeds for r in rows])  # [N, T, D], [N, T] or None
        instruction, _ = _pad([r.instruction_mask for r in rows])  # [N, T] bool
        changes = dict(prompt_embeds=embeds, prompt_mask=mask, instruction_mask=instruction)
        if rows[0].negative_embeds is not None:
            negative, negative_mask = _pad([r.negative_embeds for r in rows])
            changes.update(negative_embeds=negative, negative_mask=negative_mask)
        return dataclasses.replace(first, **changes)


def pipeline_kwargs(source, instruction: str, x_T: torch.Tensor, steps: int, *, plus: bool, true_cfg_scale: float = 1.0,
                    negative_prompt: str | None = None) -> dict:
    """Arguments of ``QwenImageEdit(Plus)Pipeline.__call__`` that reproduce editrl's Euler rollout of one example.

    Args:
        source: ``[3, H, W]`` in [0, 1] (converted to PIL as the backbone does) or a PIL image.
        x_T: ``[G, C, h, w]`` initial noises in editrl's grid layout (e.g. the evaluation noise of the example).

    ``pipe(**pipeline_kwargs(...), output_type="latent").images`` equals ``pack`` of editrl's final latents (the
    backbone with the default reference_resolution 1024 and condition_resolution None).
    """
    from diffusers.image_processor import VaeImageProcessor

    image = source
    if isinstance(source, torch.Tensor):
        image = VaeImageProcessor.numpy_to_pil(VaeImageProcessor.pt_to_numpy(source[None].float().cpu()))[0]
    W, H = image.size
    kwargs = dict(
        image=[image] if plus else image, prompt=instruction, num_images_per_prompt=x_T.shape[0],
        latents=pack(x_T), height=H, width=W, num_inference_steps=steps, true_cfg_scale=true_cfg_scale,
    )
    if negative_prompt is not None:
        kwargs["negative_prompt"] = negative_prompt
    return kwargs


class QwenImageEdit(DiffusersBackbone):
    """Qwen-Image-Edit (diffusers): exact pipeline rollouts with optional true CFG, LoRA on attention, attention
    capture over the instruction tokens, diffusers export."""

    name = "qwen_image_edit"
    Config: ClassVar[type[QwenImageEditConfig]] = QwenImageEditConfig
    default_lora_targets: ClassVar[tuple[str, ...]] = ATTENTION_PROJECTIONS
    component_names: ClassVar[tuple[str, ...]] = ("transformer", "scheduler", "vae", "text_encoder", "tokenizer", "processor")
    encoder_names: ClassVar[tuple[str, ...]] = ("vae", "text_encoder")
    codec_class = MeanStdCodec
    codec_frames = True
    spec = SPEC
    condition_class = QwenCondition
    condition_fields: ClassVar[tuple[str, ...]] = (
        "dtype", "resolution", "pipeline", "reference_resolution", "condition_resolution",
    )

    parameter_counts = staticmethod(parameter_counts)

    def _component_classes(self) -> dict[str, type]:
        from diffusers import AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageTransformer2DModel
        from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer, Qwen2VLProcessor

        return dict(
            transformer=QwenImageTransformer2DModel, vae=AutoencoderKLQwenImage,
            text_encoder=Qwen2_5_VLForConditionalGeneration, tokenizer=Qwen2Tokenizer, processor=Qwen2VLProcessor,
            scheduler=FlowMatchEulerDiscreteScheduler,
        )

    def _load_components(self, folder: Path) -> dict[str, object]:
        """The shared loading, after noting whether the folder holds the Plus pipeline (``pipeline: auto``)."""
        from editrl.diffusers.loading import pipeline_class_name

        self._folder_is_plus = PIPELINES[pipeline_class_name(folder)]
        return super()._load_components(folder)

    def _after_install(self) -> None:
        """The pipeline object holds the template, its drop index and the image processor this backbone reuses."""
        choice = self.config.pipeline
        self.plus = getattr(self, "_folder_is_plus", True) if choice == "auto" else choice == "edit_plus"
        self.pipe = self.pipeline_class()(
            scheduler=self.scheduler, vae=self.vae, text_encoder=self.text_encoder, tokenizer=self.tokenizer,
            processor=self.processor, transformer=self.transformer,
        )

    def pipeline_class(self) -> type:
        from diffusers import QwenImageEditPipeline, QwenImageEditPlusPipeline

        return QwenImageEditPlusPipeline if getattr(self, "plus", True) else QwenImageEditPipeline

    def condition_settings(self) -> dict:
        """The shared settings, and the negative prompt when guided (any guided ``cfg`` encodes the same rows)."""
        guided = self.config.cfg != "off"
        return super().condition_settings() | {"negative_prompt": self.config.negative_prompt if guided else None}

    # -- geometry --------------------------------------------------------------------------------------------
    @property
    def vae_scale_factor(self) -> int:
        return 2 ** len(self.vae.temperal_downsample)  # the pipelines' rule: the list's length, not its True count

    def reference_sizes(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((h, w) of the VL encoder's image, (h, w) of the VAE reference)`` for a source of ``height × width``."""
        from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions

        aspect = width / height
        ref_w, ref_h = calculate_dimensions(self.config.reference_resolution**2, aspect)
        side = self.config.condition_resolution or (PLUS_CONDITION_SIDE if self.plus else None)
        if side is None:
            return (ref_h, ref_w), (ref_h, ref_w)
        cond_w, cond_h = calculate_dimensions(side**2, aspect)
        return (cond_h, cond_w), (ref_h, ref_w)

    # -- the condition ---------------------------------------------------------------------------------------
    def _images(self, source: torch.Tensor) -> tuple[list, torch.Tensor, tuple[int, int]]:
        """``[N, 3, H, W]`` → (the VL encoder's PIL images, VAE pixels ``[N, 3, h_r, w_r]`` in [-1, 1], (h_r, w_r)),
        through the pipeline's own ``VaeImageProcessor`` (PIL conversion, resize, preprocess)."""
        proc = self.pipe.image_processor
        pils = proc.numpy_to_pil(proc.pt_to_numpy(source.float().cpu()))
        (ch, cw), (rh, rw) = self.reference_sizes(*source.shape[-2:])
        if self.plus:  # condition copy by resize; VAE copy by preprocess of the original (Plus L700–706)
            conditions = [proc.resize(p, ch, cw) for p in pils]
            pixels = torch.cat([proc.preprocess(p, rh, rw) for p in pils])
        else:  # one resized copy for both (Edit L661–665), unless condition_resolution asks for another
            refs = [proc.resize(p, rh, rw) for p in pils]
            conditions = refs if (ch, cw) == (rh, rw) else [proc.resize(p, ch, cw) for p in pils]
            pixels = torch.cat([proc.preprocess(r, rh, rw) for r in refs])
        return conditions, pixels, (rh, rw)

    @torch.no_grad()
    def encode_condition(self, batch: EditBatch) -> QwenCondition:
        """N rows, each encoder called once. Steps: 1. the sources as PIL, their VL copies and VAE pixels at the
        pipeline's sizes; 2. one VL call over the instructions (and as many negative prompts, when guided); 3. the
        reference latents; 4. the rows: each part trimmed to its own length, masks None when unpadded."""
        from editrl_qwen.prompt import chat_texts, encode_prompts

        self._require_encoders("encode_condition")
        N = len(batch)
        guided = self.config.cfg != "off"
        # step 1
        conditions, pixels, (rh, rw) = self._images(batch.source)  # N PIL images, [N, 3, h_r, w_r]
        # step 2
        prompts = list(batch.instructions) + ([self.config.negative_prompt] * N if guided else [])
        texts = chat_texts(self.pipe.prompt_template_encode, prompts, 1, self.plus)
        with self._on_device(self.text_encoder, self.vae):
            enc = encode_prompts(
                self.text_encoder, self.processor, texts, conditions * (2 if guided else 1),
                self.pipe.prompt_template_encode_start_idx, self.device, self.text_encoder.dtype,
            )
            dtype = enc.embeds.dtype  # the pipeline's latents dtype
            # step 3
            ref = self.codec.encode_pixels(pixels.to(dtype), self.device)  # [N, C, h_r, w_r]
        _, h, w = self.latent_shape(batch)
        vsf = self.vae_scale_factor
        pos, neg = slice(0, N), slice(N, 2 * N)
        # step 4
        return QwenCondition(
            prompt_embeds=_trim(enc.embeds[pos], enc.mask[pos]),
            prompt_mask=_mask_or_none(enc.mask[pos]),
            instruction_mask=_trim(enc.instruction[pos], enc.mask[pos]),
            ref_latents=pack(ref),
            negative_embeds=_trim(enc.embeds[neg], enc.mask[neg]) if guided else None,
            negative_mask=_mask_or_none(enc.mask[neg]) if guided else None,
            img_shapes=((1, h // 2, w // 2), (1, rh // vsf // 2, rw // vsf // 2)),
            grid=(h, w),
        )

    # -- the flow --------------------------------------------------------------------------------------------
    def guided(self, cond: QwenCondition) -> bool:
        """Whether this pass combines two: ``cfg`` all, or rollouts and no gradient is being recorded."""
        if cond.negative_embeds is None or self.config.cfg == "off":
            return False
        return self.config.cfg == "all" or not torch.is_grad_enabled()

    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, cond: QwenCondition) -> torch.Tensor:
        """Steps: 1. pack ``x`` and append the reference tokens; 2. the conditional pass (the only one captured);
        3. when guided, the negative pass and the norm-rescaled combination; 4. unpack to the grid layout."""
        M, _, h, w = x.shape
        self._check_latents(x, cond.prompt_embeds.shape[0], cond.grid)
        # step 1
        dtype = cond.prompt_embeds.dtype  # latents dtype in the pipeline
        latents = pack(x.to(device=self.device, dtype=dtype))  # [M, N, 4C]
        n_img = latents.shape[1]
        hidden = torch.cat([latents, cond.ref_latents], dim=1)  # [M, N + R, 4C]
        timestep = self._timestep(sigma, dtype)  # [M]
        shapes = [list(cond.img_shapes)] * M
        # step 2
        self._capture.arm(cond.prompt_embeds.shape[1], n_img, cond.instruction_mask)  # the conditional pass only
        try:
            v = self._forward(hidden, timestep, cond.prompt_embeds, cond.prompt_mask, shapes)[:, :n_img]  # [M, N, 4C]
        finally:
            self._capture.disarm()
        # step 3
        if self.guided(cond):
            neg = self._forward(hidden, timestep, cond.negative_embeds, cond.negative_mask, shapes)[:, :n_img]
            comb = neg + self.config.true_cfg_scale * (v - neg)  # [M, N, 4C]
            v = comb * (torch.norm(v, dim=-1, keepdim=True) / torch.norm(comb, dim=-1, keepdim=True))  # per token
        # step 4
        return unpack(v, h, w).to(x.dtype)  # [M, C, h, w]

    def _forward(self, hidden, timestep, embeds, mask, shapes) -> torch.Tensor:
        return self.denoiser(
            hidden_states=hidden, timestep=timestep, guidance=None, encoder_hidden_states_mask=mask,
            encoder_hidden_states=embeds, img_shapes=shapes, attention_kwargs={}, return_dict=False,
        )[0]

    # -- attention capture -----------------------------------------------------------------------------------
    def _capture_blocks(self) -> tuple[list[tuple[str, nn.Module]], type]:
        from editrl_qwen.attention import QwenCaptureAttnProcessor, attention_modules_in_order

        return attention_modules_in_order(self.transformer), QwenCaptureAttnProcessor

def _trim(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Drop trailing columns no row of this part uses (the positive and negative prompts were padded together)."""
    return values[:, : int(mask.sum(-1).max())]


def _length(mask: torch.Tensor | None, row: int, width: int) -> int:
    """Real tokens of ``row`` (``width`` when the part has no mask: no row padded)."""
    return width if mask is None else int(mask[row].sum())


def _pad(parts: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``[1, t_i, ...]`` rows → ``[N, T, ...]`` right-padded with zeros (False), and the ``[N, T]`` mask of real
    tokens, None when no row is padded."""
    T = max(p.shape[1] for p in parts)
    out = torch.cat([torch.cat([p, p.new_zeros(1, T - p.shape[1], *p.shape[2:])], dim=1) for p in parts])
    mask = torch.stack([torch.arange(T, device=out.device) < p.shape[1] for p in parts])  # [N, T]
    return out, (None if bool(mask.all()) else mask)


def _mask_or_none(mask: torch.Tensor) -> torch.Tensor | None:
    mask = _trim(mask, mask)
    return None if bool(mask.all()) else mask
