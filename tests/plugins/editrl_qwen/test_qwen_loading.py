"""Weights that cannot be had, a folder of another kind, a model too large for the device: the run stops at once with
a message that says what is missing and what to do (and points to the toy recipes)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import torch
from diffusers_support import broken_vae_copy, fails_fast, full_sized_copy


def _backbone(model: str, **kw):
    from editrl_qwen import QwenImageEdit, QwenImageEditConfig

    return QwenImageEdit(QwenImageEditConfig(model=model, dtype="fp32", **kw))


def _fails_fast(backbone, device="cpu") -> str:
    msg = fails_fast(backbone, device)
    assert "recipes/toy/rc_grpo.yaml" in msg
    return msg


def test_missing_folder(tmp_path):
    missing = tmp_path / "nowhere" / "Qwen-Image-Edit-2509"
    msg = _fails_fast(_backbone(str(missing)))
    assert str(missing) in msg and "no such folder" in msg
    for hint in ("backbone.model=/path/to/Qwen-Image-Edit-2509", "GPU", "hf download"):
        assert hint in msg


def test_folder_without_the_diffusers_layout(tmp_path):
    (tmp_path / "transformer").mkdir()
    msg = _fails_fast(_backbone(str(tmp_path)))
    assert "processor" in msg and "model_index.json" in msg and "QwenImageEditPlusPipeline" in msg


def test_a_folder_of_another_kind_is_refused(edit_dir, tmp_path):
    folder = tmp_path / "flux"
    shutil.copytree(edit_dir, folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["_class_name"] = "FluxKontextPipeline"
    (folder / "model_index.json").write_text(json.dumps(index))
    msg = _fails_fast(_backbone(str(folder)))
    assert "FluxKontextPipeline" in msg and "not Qwen-Image-Edit" in msg


def test_hub_id_not_available_offline():
    msg = _fails_fast(_backbone("Qwen/Qwen-Image-Edit-2509", local_files_only=True))
    assert "Qwen/Qwen-Image-Edit-2509" in msg and "cannot be found" in msg and "backbone.model=/path" in msg


def _qwen_sized(edit_dir, tmp_path):
    return full_sized_copy(
        edit_dir, tmp_path / "big", num_layers=60, num_attention_heads=24, attention_head_dim=128, in_channels=64,
        out_channels=16, joint_attention_dim=3584, axes_dims_rope=[16, 56, 56],
    )


def test_qwen_sized_model_on_a_cpu_is_refused_before_loading(edit_dir, tmp_path):
    # 36·60·3072² + 3072·(3584 + 128 + 256 + 3072) = 20.38 B + 0.02 B ≈ 20.4 B
    msg = _fails_fast(_backbone(str(_qwen_sized(edit_dir, tmp_path))))
    assert "CUDA GPU" in msg and "20.4 B" in msg and "Qwen-Image-sized" in msg


def test_too_small_a_gpu_is_refused_before_loading(edit_dir, tmp_path, monkeypatch):
    """A 24 GB GPU (faked: the check reads only the device's total memory) cannot hold 20.4 B bf16 parameters."""
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: SimpleNamespace(total_memory=24e9))
    backbone = _backbone(str(_qwen_sized(edit_dir, tmp_path)), offload_encoders=True)
    backbone.dtype = torch.bfloat16
    msg = _fails_fast(backbone, device="cuda:0")
    assert "needs about 41 GB" in msg and "has 24 GB" in msg and "80 GB" in msg  # 20.4 B × 2 bytes


def test_broken_weights_are_a_resource_error(edit_dir, tmp_path):
    msg = _fails_fast(_backbone(str(broken_vae_copy(edit_dir, tmp_path / "broken"))))
    assert "loading the Qwen-Image-Edit components" in msg
