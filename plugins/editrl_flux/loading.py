"""Finding FLUX.1 Kontext weights (local folder or hub id) and failing at once, with a useful message, when they cannot
be had or cannot fit the device."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from editrl.errors import ResourceError

#: The diffusers folder layout of ``FluxKontextPipeline`` (``model_index.json`` plus one folder per component).
SUBFOLDERS = ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")
#: What the backbone downloads from the hub: the diffusers layout only, not the single-file checkpoint next to it.
WEIGHT_PATTERNS = ["model_index.json", *(f"{s}/*" for s in SUBFOLDERS)]
CONFIG_PATTERNS = ["model_index.json", *(f"{s}/*.json" for s in SUBFOLDERS)]

TOY_HINT = "To try editrl on a CPU without these weights, run `editrl run recipes/toy/rc_grpo.yaml`."
#: Above this many transformer parameters a model is treated as FLUX-sized: it needs a CUDA GPU.
CPU_PARAM_LIMIT = 1_000_000_000

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")
_BYTES = {torch.float32: 4, torch.float16: 2, torch.bfloat16: 2}


def _is_hub_id(model: str) -> bool:
    return bool(_HUB_ID.match(model)) and not model.startswith((".", "~")) and ".." not in model


def _how_to_get(model: str) -> str:
    return (
        f"Either give a local copy in the diffusers layout ({', '.join(SUBFOLDERS)}, model_index.json) with "
        f"`backbone.model=/path/to/FLUX.1-Kontext-dev`, or make the hub model reachable: {model!r} is gated, so accept "
        "its licence on huggingface.co and log in (`hf auth login` or HF_TOKEN) on a machine with network access "
        "(the diffusers folders are about 34 GB in bf16). A CUDA GPU with at least 40 GB of memory is needed "
        "(the FLUX recipes are sized for an 80 GB GPU). " + TOY_HINT
    )


def resolve_folder(model: str, revision: str | None, local_files_only: bool, *, configs_only: bool) -> Path:
    """The local folder holding ``model`` in the diffusers layout; download from the hub when ``model`` is a hub id.

    With ``configs_only`` only the small JSON configs are fetched (enough to size the model before the download).
    Raises :class:`ResourceError` at once when the folder does not exist or the hub cannot provide the files.
    """
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ResourceError(f"backbone.model={model!r} is a file, not a model folder. " + _how_to_get(model))
        missing = [s for s in SUBFOLDERS if not (path / s).is_dir()]
        if missing:
            raise ResourceError(
                f"backbone.model={model!r}: the folder has no {', '.join(missing)} subfolder(s); expected the "
                "diffusers layout of FLUX.1 Kontext-dev as `FluxKontextPipeline.save_pretrained` writes it. "
                + _how_to_get(model)
            )
        return path
    if not _is_hub_id(model):
        raise ResourceError(f"backbone.model={model!r}: no such folder. " + _how_to_get(model))

    from huggingface_hub import snapshot_download

    offline = local_files_only or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    try:
        folder = snapshot_download(
            model,
            revision=revision,
            allow_patterns=CONFIG_PATTERNS if configs_only else WEIGHT_PATTERNS,
            local_files_only=offline,
        )
    except Exception as exc:  # gated (401/403), not found, no network, not cached offline, disk full, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = "in the local hub cache (offline)" if offline else "on the Hugging Face hub"
        raise ResourceError(
            f"backbone.model={model!r}: the weights cannot be found {where} ({type(exc).__name__}: {reason}). "
            + _how_to_get(model)
        ) from None
    return Path(folder)


def _read_config(folder: Path, sub: str) -> dict:
    try:
        return json.loads((folder / sub / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ResourceError(f"{folder / sub / 'config.json'} cannot be read ({exc}). " + TOY_HINT) from None


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


def check_device(folder: Path, model: str, device: torch.device, dtype: torch.dtype, offload_encoders: bool) -> None:
    """Refuse at once (before any large download or load) a FLUX-sized model on a CPU or on too small a GPU."""
    n_transformer = transformer_params(_read_config(folder, "transformer"))
    n_t5 = 0 if offload_encoders else t5_params(_read_config(folder, "text_encoder_2"))
    need_gb = (n_transformer + n_t5) * _BYTES.get(dtype, 2) / 1e9
    if device.type != "cuda":
        if n_transformer > CPU_PARAM_LIMIT:
            raise ResourceError(
                f"backbone.model={model!r} is a FLUX-sized model ({n_transformer / 1e9:.1f} B transformer parameters, "
                f"about {need_gb:.0f} GB of weights in {str(dtype).removeprefix('torch.')}); it needs a CUDA GPU "
                f"with at least 40 GB of memory, and this run's device is {device}. " + TOY_HINT
            )
        return
    index = device.index if device.index is not None else torch.cuda.current_device()
    total_gb = torch.cuda.get_device_properties(index).total_memory / 1e9
    if need_gb > 0.9 * total_gb:
        raise ResourceError(
            f"backbone.model={model!r} needs about {need_gb:.0f} GB of GPU memory for its weights alone "
            f"({n_transformer / 1e9:.1f} B transformer parameters{'' if offload_encoders else ' plus the T5 encoder'} "
            f"in {str(dtype).removeprefix('torch.')}), but {device} has {total_gb:.0f} GB. Use a larger GPU "
            "(the FLUX recipes are sized for 80 GB)" + ("" if offload_encoders else ", or set backbone.offload_encoders=true")
            + ". " + TOY_HINT
        )
