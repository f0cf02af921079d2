"""Weights that cannot be had stop the run at once with a message that says what is missing and what to do."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import torch

from editrl.errors import ResourceError


def _backbone(model: str, **kw):
    from editrl_flux import FluxKontext, FluxKontextConfig

    return FluxKontext(FluxKontextConfig(model=model, dtype="fp32", **kw))


def _fails_fast(backbone, device="cpu") -> str:
    start = time.perf_counter()
    with pytest.raises(ResourceError) as info:
        backbone.load(torch.device(device))
    assert time.perf_counter() - start < 5
    return str(info.value)


def test_missing_folder(tmp_path):
    missing = tmp_path / "nowhere" / "FLUX.1-Kontext-dev"
    msg = _fails_fast(_backbone(str(missing)))
    assert str(missing) in msg and "no such folder" in msg
    for hint in ("backbone.model=/path", "GPU", "recipes/toy/rc_grpo.yaml", "licence"):
        assert hint in msg


def test_folder_without_the_diffusers_layout(tmp_path):
    (tmp_path / "transformer").mkdir()
    msg = _fails_fast(_backbone(str(tmp_path)))
    assert "text_encoder_2" in msg and "recipes/toy/rc_grpo.yaml" in msg


def test_hub_id_not_available_offline():
    msg = _fails_fast(_backbone("black-forest-labs/FLUX.1-Kontext-dev", local_files_only=True))
    assert "black-forest-labs/FLUX.1-Kontext-dev" in msg and "cannot be found" in msg
    assert "recipes/toy/rc_grpo.yaml" in msg and "backbone.model=/path" in msg


def test_flux_sized_model_on_a_cpu_is_refused_before_loading(tiny_dir, tmp_path):
    """The real configuration is read first; its 12 B transformer is refused on a CPU without touching the weights."""
    folder = tmp_path / "big"
    shutil.copytree(tiny_dir, folder)
    cfg = json.loads((folder / "transformer" / "config.json").read_text())
    cfg.update(num_layers=19, num_single_layers=38, num_attention_heads=24, attention_head_dim=128, in_channels=64,
               joint_attention_dim=4096, pooled_projection_dim=768, axes_dims_rope=[16, 56, 56])
    (folder / "transformer" / "config.json").write_text(json.dumps(cfg))
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()  # would fail to load: the check must come first
    msg = _fails_fast(_backbone(str(folder)))
    assert "CUDA GPU" in msg and "11.8 B" in msg and "recipes/toy/rc_grpo.yaml" in msg


def test_broken_weights_are_a_resource_error(tiny_dir, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(tiny_dir, folder)
    for weights in (folder / "vae").glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    msg = _fails_fast(_backbone(str(folder)))
    assert "loading the FLUX.1 Kontext components" in msg and "recipes/toy/rc_grpo.yaml" in msg
