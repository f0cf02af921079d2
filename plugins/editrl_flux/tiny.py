"""A tiny random FLUX.1 Kontext pipeline, built offline in code (no hub access).

Every component of ``FluxKontextPipeline`` is present and has the real classes: a 2 + 2 block
``FluxTransformer2DModel`` with guidance embedding, an ``AutoencoderKL`` (4 latent channels, scale factor 2), a CLIP
and a T5 text encoder and their tokenizers (character-level vocabularies built here), and the scheduler with the
Kontext-dev configuration. ``build_tiny_kontext(directory)`` saves it in the diffusers folder layout, so that
``backbone.model=<directory>`` loads it through the plugin's real loading path. Weights are random (seeded): this is for
tests, benchmarks of the plumbing and trying editrl's FLUX path on a CPU, not for editing images.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch

#: The scheduler configuration of FLUX.1-dev / FLUX.1 Kontext-dev (``scheduler/scheduler_config.json``).
KONTEXT_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
    "base_shift": 0.5,
    "max_shift": 1.15,
    "base_image_seq_len": 256,
    "max_image_seq_len": 4096,
}


def tiny_clip_tokenizer():
    """A CLIP tokenizer with a character-level byte vocabulary (514 tokens, no merges): bos 0, eos = pad = 1."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = [bytes_to_unicode()[b] for b in range(256)]  # GPT-2/CLIP byte-level stand-ins, in byte order
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def tiny_t5_tokenizer(model_max_length: int = 512):
    """A T5 (Unigram) tokenizer over printable characters: pad 0, eos 1, unk 2; appends ``</s>``."""
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    for c in string.printable.strip():
        pieces += [(c, -5.0), ("▁" + c, -4.0)]
    return T5TokenizerFast(vocab=pieces, extra_ids=0, model_max_length=model_max_length)


def build_tiny_kontext(directory: str | Path | None = None, *, seed: int = 0):
    """Build the tiny random Kontext pipeline (fp32, eval mode) and, if ``directory`` is given, save it there.

    Returns the ``FluxKontextPipeline``. The saved folder loads with ``FluxKontextPipeline.from_pretrained(directory)``
    and with editrl's ``flux_kontext`` backbone (``backbone.model=<directory>``).
    """
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    tokenizer = tiny_clip_tokenizer()
    tokenizer_2 = tiny_t5_tokenizer()

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,
        num_layers=2,
        num_single_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
        guidance_embeds=True,
    )
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-5,
            num_attention_heads=4,
            num_hidden_layers=2,
            projection_dim=32,
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
            hidden_act="gelu",
        )
    )
    torch.manual_seed(seed + 2)
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2),
            d_model=32,
            d_ff=37,
            d_kv=8,
            num_heads=4,
            num_layers=2,
            relative_attention_num_buckets=8,
            feed_forward_proj="relu",
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    torch.manual_seed(seed + 3)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 8),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=32,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(**KONTEXT_SCHEDULER_CONFIG)
    for module in (transformer, text_encoder, text_encoder_2, vae):
        module.eval()  # built from configs they start in train mode (T5 dropout 0.1 would make encodings random)
    pipe = FluxKontextPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )
    if directory is not None:
        pipe.save_pretrained(str(directory))
    return pipe
