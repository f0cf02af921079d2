"""A tiny random Qwen-Image-Edit pipeline, built offline in code (no hub access).

Every component of ``QwenImageEditPipeline`` / ``QwenImageEditPlusPipeline`` is present and has the real classes: a
2-block ``QwenImageTransformer2DModel``, an ``AutoencoderKLQwenImage`` with 4 channels and three spatial
downsamplings (scale factor 8 as the real VAE's, so sides are multiples of 16), a 2-layer ``Qwen2_5_VLForConditionalGeneration``
(text and vision tower), a byte-level ``Qwen2Tokenizer`` with the chat and vision special tokens (built here), and a
``Qwen2VLProcessor`` whose image processor caps the VLM image at 112×112 pixels (16 vision tokens). The scheduler has
the Qwen-Image-Edit configuration. ``build_tiny_qwen_edit(directory, plus=True, zero_cond_t=True)`` makes the
2509/2511-style Plus pipeline. Weights are random (seeded): this is for tests and trials on a CPU, not for editing.
"""

from __future__ import annotations

from pathlib import Path

import torch

#: The scheduler configuration of Qwen-Image(-Edit) (``scheduler/scheduler_config.json``, notes §2.3).
QWEN_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": True,
    "base_shift": 0.5,
    "max_shift": 0.9,
    "base_image_seq_len": 256,
    "max_image_seq_len": 8192,
    "shift_terminal": 0.02,
    "time_shift_type": "exponential",
}

#: The tiny transformer (``zero_cond_t`` is added per pipeline) and VAE; the benchmark's ``--tiny`` uses them too.
TINY_TRANSFORMER = dict(
    patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16, num_attention_heads=3,
    joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4),
)
TINY_VAE = dict(
    base_dim=4, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, False],
    latents_mean=[0.1, -0.2, 0.05, 0.3], latents_std=[1.5, 0.8, 1.2, 2.0],
)

#: The special tokens the pipelines' chat template and the processor use, appended after the 256 byte tokens.
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
    "<|video_pad|>",
)


def tiny_qwen_tokenizer():
    """A byte-level ``Qwen2Tokenizer`` (256 byte tokens, no merges) plus the 7 special tokens (ids 256–262)."""
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {bytes_to_unicode()[b]: b for b in range(256)}  # byte-level stand-ins, in byte order
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    return Qwen2Tokenizer(
        vocab=vocab, merges=[], unk_token=None, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
    )


def tiny_qwen_processor(tokenizer):
    """``Qwen2VLProcessor`` over ``tokenizer``; the VLM sees at most 112×112 pixels (4×4 merged patches)."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    size = {"shortest_edge": 56 * 56, "longest_edge": 112 * 112}
    return Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size), tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(size=size),
    )


def tiny_text_encoder(tokenizer, seed: int):
    """A 2-layer Qwen2.5-VL (hidden 16) with a 2-block vision tower, token ids from ``tokenizer``."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    special = dict(bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
            "num_key_value_heads": 2, "vocab_size": len(tokenizer), "max_position_embeddings": 4096,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1e6, **special,
        },
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": 16,
                       "fullatt_block_indexes": [1]},
        vocab_size=len(tokenizer), image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(config)


def build_tiny_qwen_edit(
    directory: str | Path | None = None, *, plus: bool = False, zero_cond_t: bool = False, seed: int = 0
):
    """Build the tiny random pipeline (fp32, eval mode) and, if ``directory`` is given, save it there.

    ``plus``: a ``QwenImageEditPlusPipeline`` (the 2509 / 2511 layout) instead of ``QwenImageEditPipeline``;
    ``zero_cond_t``: the 2511 transformer option (reference tokens modulated at timestep 0). Returns the pipeline.
    """
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPipeline,
        QwenImageEditPlusPipeline,
        QwenImageTransformer2DModel,
    )

    tokenizer = tiny_qwen_tokenizer()
    processor = tiny_qwen_processor(tokenizer)
    text_encoder = tiny_text_encoder(tokenizer, seed + 1)
    torch.manual_seed(seed)
    transformer = QwenImageTransformer2DModel(**TINY_TRANSFORMER, zero_cond_t=zero_cond_t)
    torch.manual_seed(seed + 2)
    vae = AutoencoderKLQwenImage(**TINY_VAE)
    scheduler = FlowMatchEulerDiscreteScheduler(**QWEN_SCHEDULER_CONFIG)
    for module in (transformer, text_encoder, vae):
        module.eval()  # built from configs they start in train mode
    cls = QwenImageEditPlusPipeline if plus else QwenImageEditPipeline
    pipe = cls(
        scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, processor=processor,
        transformer=transformer,
    )
    if directory is not None:
        pipe.save_pretrained(str(directory))
    return pipe
