"""What the FLUX.1 Kontext backbone loads (its :class:`~editrl.diffusers.loading.ModelSpec`) and how large it is, from
the configs alone, so the shared fail-fast loading can refuse it before any large download."""

from __future__ import annotations

from pathlib import Path

from editrl.diffusers.loading import ModelSpec, read_config

SPEC = ModelSpec(
    title="FLUX.1 Kontext",
    family="FLUX",
    pipelines=("FluxKontextPipeline",),
    subfolders=("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"),
    example_folder="/path/to/FLUX.1-Kontext-dev",
    access=(
        "it is gated, so accept its licence on huggingface.co and log in (`hf auth login` or HF_TOKEN) on a machine "
        "with network access (the diffusers folders are about 34 GB in bf16)."
    ),
    min_gpu_gb=40,
    recipe_gpu_gb=80,
)


def transformer_params(config: dict) -> int:
    """Approximate parameter count of a ``FluxTransformer2DModel`` from its config (FLUX.1: ≈ 11.9 B)."""
    d = config.get("num_attention_heads", 24) * config.get("attention_head_dim", 128)
    double, single = config.get("num_layers", 19), config.get("num_single_layers", 38)
    # dual block: 8 attention projections + 2 MLPs (2·8d²) + 2 AdaLN-Zero (2·6d²) = 36 d²; single: 15 d²
    return (36 * double + 15 * single) * d * d + d * (config.get("joint_attention_dim", 4096) + 64 + 3 * 256)


def t5_params(config: dict) -> int:
    """Approximate parameter count of the T5 encoder (T5-XXL encoder: ≈ 4.8 B)."""
    d, ff, layers = config.get("d_model", 4096), config.get("d_ff", 10240), config.get("num_layers", 24)
    inner = config.get("num_heads", 64) * config.get("d_kv", 64)
    gated = str(config.get("feed_forward_proj", "")).startswith("gated")
    return layers * (4 * d * inner + (3 if gated else 2) * d * ff) + config.get("vocab_size", 32128) * d


def parameter_counts(folder: Path) -> tuple[int, int]:
    """``(transformer, T5)`` parameter counts (CLIP-L's 0.1 B is negligible)."""
    return transformer_params(read_config(folder, "transformer")), t5_params(read_config(folder, "text_encoder_2"))
