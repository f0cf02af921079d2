"""The diffusers-format LoRA file (``pytorch_lora_weights.safetensors``) a pipeline's ``load_lora_weights`` reads."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WEIGHT_NAME = "pytorch_lora_weights.safetensors"


def export_lora(pipeline_cls: type, transformer: nn.Module, lora_state: dict[str, torch.Tensor], directory: Path) -> Path:
    """Write ``lora_state`` (peft keys of ``transformer``) with ``pipeline_cls.save_lora_weights``: keys
    ``transformer.<module>.lora_A.weight``, the adapter's LoRA config in the metadata (so the scale α/r survives)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in lora_state.items()}
    pipeline_cls.save_lora_weights(
        str(directory), transformer_lora_layers=state, transformer_lora_adapter_metadata=lora_metadata(transformer, state)
    )
    return directory / WEIGHT_NAME


def lora_metadata(transformer: nn.Module, state: dict[str, torch.Tensor]) -> dict:
    """The ``default`` adapter's peft config; without one, a config describing the weights (α = r, scale 1)."""
    peft_config = getattr(transformer, "peft_config", None) or {}
    if "default" in peft_config:
        meta = peft_config["default"].to_dict()
    else:
        ranks = {v.shape[0] for k, v in state.items() if k.endswith("lora_A.weight")}
        rank = max(ranks) if ranks else 0
        modules = sorted({k.rsplit(".lora_", 1)[0] for k in state})
        meta = {"r": rank, "lora_alpha": rank, "target_modules": modules}
    for key, value in list(meta.items()):
        if isinstance(value, (set, frozenset)):
            meta[key] = sorted(value)
    return meta
