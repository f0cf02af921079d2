"""What the Qwen-Image-Edit backbone loads (its :class:`~editrl.diffusers.loading.ModelSpec`) and how large it is, from
the configs alone, so the shared fail-fast loading can refuse it before any large download."""

from __future__ import annotations

from pathlib import Path

from editrl.diffusers.loading import ModelSpec, read_config

#: model_index.json ``_class_name`` → whether the folder is the Plus (2509 / 2511) pipeline.
PIPELINES = {"QwenImageEditPipeline": False, "QwenImageEditPlusPipeline": True}

SPEC = ModelSpec(
    title="Qwen-Image-Edit",
    family="Qwen-Image",
    pipelines=tuple(PIPELINES),
    subfolders=("transformer", "vae", "text_encoder", "tokenizer", "processor", "scheduler"),
    example_folder="/path/to/Qwen-Image-Edit-2509",
    access=(
        "Qwen/Qwen-Image-Edit, -2509 and -2511 are public (Apache-2.0); download them on a machine with network access "
        "(`hf download Qwen/Qwen-Image-Edit-2509`; about 58 GB in bf16: a 20 B transformer and the 8 B Qwen2.5-VL "
        "text encoder)."
    ),
    min_gpu_gb=48,
    recipe_gpu_gb=80,
)


def transformer_params(config: dict) -> int:
    """Approximate parameter count of a ``QwenImageTransformer2DModel`` from its config (Qwen-Image: ≈ 20.4 B)."""
    d = config.get("num_attention_heads", 24) * config.get("attention_head_dim", 128)
    layers = config.get("num_layers", 60)
    # dual-stream block: 8 attention projections (8d²) + image and text MLPs (2·8d²) + 2 modulations (2·6d²) = 36 d²
    return 36 * layers * d * d + d * (config.get("joint_attention_dim", 3584) + 2 * config.get("in_channels", 64) + 256 + d)


def text_encoder_params(config: dict) -> int:
    """Approximate parameter count of the Qwen2.5-VL text encoder, language model and vision tower (7B: ≈ 8.3 B)."""
    text = config.get("text_config", config)  # transformers v5 nests it; the hub config is flat
    d, ff, layers = text.get("hidden_size", 3584), text.get("intermediate_size", 18944), text.get("num_hidden_layers", 28)
    heads = text.get("num_attention_heads", 28)
    kv = text.get("num_key_value_heads", 4) * (d // heads)
    vocab = text.get("vocab_size", config.get("vocab_size", 152064))
    # attention q, o (2d²) + k, v (2·d·kv) + gated MLP (3·d·ff) per layer; input embedding and LM head
    language = layers * (2 * d * d + 2 * d * kv + 3 * d * ff) + 2 * vocab * d
    vision = config.get("vision_config", {})
    vd, vff, depth = vision.get("hidden_size", 1280), vision.get("intermediate_size", 3420), vision.get("depth", 32)
    return language + depth * (4 * vd * vd + 3 * vd * vff)


def parameter_counts(folder: Path) -> tuple[int, int]:
    """``(transformer, text encoder)`` parameter counts."""
    return transformer_params(read_config(folder, "transformer")), text_encoder_params(read_config(folder, "text_encoder"))
