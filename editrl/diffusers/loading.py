"""Finding a diffusers model folder (local or hub id) and failing at once, with a useful message, when the weights
cannot be had, are of another kind of model, or cannot fit the device. Nothing large is downloaded before the checks:
the configs come first (``configs_only``), the device check reads them, and only then the weights follow."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import torch

from editrl.errors import ResourceError

TOY_HINT = "To try editrl on a CPU without these weights, run `editrl run recipes/toy/rc_grpo.yaml`."
#: Above this many transformer parameters a model is treated as full-sized: it needs a CUDA GPU.
CPU_PARAM_LIMIT = 1_000_000_000

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")
BYTES = {torch.float32: 4, torch.float16: 2, torch.bfloat16: 2}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What a diffusers backbone loads, and what to tell the user when it cannot."""

    title: str
    """The model's name in messages, e.g. "FLUX.1 Kontext"."""
    family: str
    """Its size class in messages ("a FLUX-sized model")."""
    pipelines: tuple[str, ...]
    """``_class_name`` values of ``model_index.json`` this backbone accepts."""
    subfolders: tuple[str, ...]
    """Component folders of the diffusers layout."""
    example_folder: str
    """The ``backbone.model=`` example in messages, e.g. "/path/to/FLUX.1-Kontext-dev"."""
    access: str
    """How to get the hub weights and how large they are (one or two sentences)."""
    min_gpu_gb: int
    """The smallest GPU (GB) that can run it."""
    recipe_gpu_gb: int
    """The GPU (GB) the recipes are sized for."""

    @property
    def weight_patterns(self) -> list[str]:
        """What is downloaded from the hub: the diffusers layout only, not single-file checkpoints next to it."""
        return ["model_index.json", *(f"{s}/*" for s in self.subfolders)]

    @property
    def config_patterns(self) -> list[str]:
        return ["model_index.json", *(f"{s}/*.json" for s in self.subfolders)]

    def how_to_get(self, model: str) -> str:
        return (
            f"Either give a local copy in the diffusers layout ({', '.join(self.subfolders)}, model_index.json) with "
            f"`backbone.model={self.example_folder}`, or make the hub model {model!r} reachable: {self.access} A CUDA "
            f"GPU with at least {self.min_gpu_gb} GB of memory is needed (the recipes are sized for "
            f"{self.recipe_gpu_gb} GB). " + TOY_HINT
        )


def _is_hub_id(model: str) -> bool:
    return bool(_HUB_ID.match(model)) and not model.startswith((".", "~")) and ".." not in model


def resolve_folder(spec: ModelSpec, model: str, revision: str | None, local_files_only: bool, *, configs_only: bool) -> Path:
    """The local folder holding ``model`` in the diffusers layout; download from the hub when ``model`` is a hub id.

    With ``configs_only`` only the small JSON configs are fetched (enough to check the kind and size the model before
    the download). Raises :class:`ResourceError` at once when the folder does not exist, lacks the layout, holds
    another kind of pipeline, or the hub cannot provide the files.
    """
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ResourceError(f"backbone.model={model!r} is a file, not a model folder. " + spec.how_to_get(model))
        missing = [s for s in ("model_index.json", *spec.subfolders) if not (path / s).exists()]
        if missing:
            raise ResourceError(
                f"backbone.model={model!r}: the folder has no {', '.join(missing)}; expected the diffusers layout of "
                f"{spec.title} as `save_pretrained` of {' or '.join(spec.pipelines)} writes it. " + spec.how_to_get(model)
            )
        check_kind(spec, model, path)
        return path
    if not _is_hub_id(model):
        raise ResourceError(f"backbone.model={model!r}: no such folder. " + spec.how_to_get(model))

    from huggingface_hub import snapshot_download

    offline = local_files_only or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
    try:
        folder = snapshot_download(
            model,
            revision=revision,
            allow_patterns=spec.config_patterns if configs_only else spec.weight_patterns,
            local_files_only=offline,
        )
    except Exception as exc:  # gated (401/403), not found, no network, not cached offline, disk full, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = "in the local hub cache (offline)" if offline else "on the Hugging Face hub"
        raise ResourceError(
            f"backbone.model={model!r}: the weights cannot be found {where} ({type(exc).__name__}: {reason}). "
            + spec.how_to_get(model)
        ) from None
    check_kind(spec, model, Path(folder))
    return Path(folder)


def pipeline_class_name(folder: Path) -> str:
    """``_class_name`` of ``folder/model_index.json``."""
    index = folder / "model_index.json"
    try:
        return str(json.loads(index.read_text()).get("_class_name", ""))
    except (OSError, ValueError, AttributeError) as exc:
        raise ResourceError(f"{index} cannot be read ({exc}). " + TOY_HINT) from None


def check_kind(spec: ModelSpec, model: str, folder: Path) -> None:
    """Refuse a folder whose ``model_index.json`` names another pipeline (e.g. a FLUX folder given to Qwen)."""
    name = pipeline_class_name(folder)
    if name not in spec.pipelines:
        raise ResourceError(
            f"backbone.model={model!r} holds a {name or 'unnamed'} pipeline (model_index.json), not {spec.title} "
            f"({' or '.join(spec.pipelines)}); choose the backbone type that matches the folder, or "
            f"`backbone.model={spec.example_folder}`. " + TOY_HINT
        )


def read_config(folder: Path, sub: str) -> dict:
    try:
        return json.loads((folder / sub / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ResourceError(f"{folder / sub / 'config.json'} cannot be read ({exc}). " + TOY_HINT) from None


def check_device(
    spec: ModelSpec, model: str, device: torch.device, dtype: torch.dtype, n_transformer: int, n_encoder: int,
    offload_encoders: bool,
) -> None:
    """Refuse at once (before any large download or load) a full-sized model on a CPU or on too small a GPU.

    ``n_transformer`` / ``n_encoder``: parameter counts from the configs; the encoder counts only without offload."""
    need_gb = (n_transformer + (0 if offload_encoders else n_encoder)) * BYTES.get(dtype, 2) / 1e9
    dtype_name = str(dtype).removeprefix("torch.")
    if device.type != "cuda":
        if n_transformer > CPU_PARAM_LIMIT:
            raise ResourceError(
                f"backbone.model={model!r} is a {spec.family}-sized model ({n_transformer / 1e9:.1f} B transformer "
                f"parameters, about {need_gb:.0f} GB of weights in {dtype_name}); it needs a CUDA GPU with at least "
                f"{spec.min_gpu_gb} GB of memory, and this run's device is {device}. " + TOY_HINT
            )
        return
    index = device.index if device.index is not None else torch.cuda.current_device()
    total_gb = torch.cuda.get_device_properties(index).total_memory / 1e9
    if need_gb > 0.9 * total_gb:
        raise ResourceError(
            f"backbone.model={model!r} needs about {need_gb:.0f} GB of GPU memory for its weights alone "
            f"({n_transformer / 1e9:.1f} B transformer parameters{'' if offload_encoders else ' plus the text encoder'} "
            f"in {dtype_name}), but {device} has {total_gb:.0f} GB. Use a larger GPU (the recipes are sized for "
            f"{spec.recipe_gpu_gb} GB)" + ("" if offload_encoders else ", or set backbone.offload_encoders=true")
            + ". " + TOY_HINT
        )


def load_failure(spec: ModelSpec, model: str, folder: Path, exc: BaseException) -> ResourceError:
    """The :class:`ResourceError` for an exception raised while loading the components from ``folder``."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return ResourceError(
            f"backbone.model={model!r}: out of GPU memory while loading ({str(exc).splitlines()[0]}). Set "
            f"backbone.offload_encoders=true or use a larger GPU (the recipes are sized for {spec.recipe_gpu_gb} GB). "
            + TOY_HINT
        )
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ResourceError(
        f"backbone.model={model!r}: loading the {spec.title} components from {folder} failed "
        f"({type(exc).__name__}: {detail}). The folder must hold a complete diffusers {' or '.join(spec.pipelines)} "
        "(`save_pretrained` layout). " + TOY_HINT
    )
