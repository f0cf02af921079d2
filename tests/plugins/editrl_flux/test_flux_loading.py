"""Weights that cannot be had stop the run at once with a message that says what is missing and what to do."""

from __future__ import annotations

from diffusers_support import broken_vae_copy, fails_fast, full_sized_copy


def _backbone(model: str, **kw):
    from editrl_flux import FluxKontext, FluxKontextConfig

    return FluxKontext(FluxKontextConfig(model=model, dtype="fp32", **kw))


def test_missing_folder(tmp_path):
    missing = tmp_path / "nowhere" / "FLUX.1-Kontext-dev"
    msg = fails_fast(_backbone(str(missing)))
    assert str(missing) in msg and "no such folder" in msg
    for hint in ("backbone.model=/path", "GPU", "recipes/toy/rc_grpo.yaml", "licence"):
        assert hint in msg


def test_folder_without_the_diffusers_layout(tmp_path):
    (tmp_path / "transformer").mkdir()
    msg = fails_fast(_backbone(str(tmp_path)))
    assert "text_encoder_2" in msg and "recipes/toy/rc_grpo.yaml" in msg


def test_hub_id_not_available_offline():
    msg = fails_fast(_backbone("black-forest-labs/FLUX.1-Kontext-dev", local_files_only=True))
    assert "black-forest-labs/FLUX.1-Kontext-dev" in msg and "cannot be found" in msg
    assert "recipes/toy/rc_grpo.yaml" in msg and "backbone.model=/path" in msg


def test_flux_sized_model_on_a_cpu_is_refused_before_loading(tiny_dir, tmp_path):
    """The real configuration is read first; its 12 B transformer is refused on a CPU without touching the weights."""
    folder = full_sized_copy(
        tiny_dir, tmp_path / "big", num_layers=19, num_single_layers=38, num_attention_heads=24, attention_head_dim=128,
        in_channels=64, joint_attention_dim=4096, pooled_projection_dim=768, axes_dims_rope=[16, 56, 56],
    )
    msg = fails_fast(_backbone(str(folder)))
    assert "CUDA GPU" in msg and "11.8 B" in msg and "recipes/toy/rc_grpo.yaml" in msg


def test_broken_weights_are_a_resource_error(tiny_dir, tmp_path):
    msg = fails_fast(_backbone(str(broken_vae_copy(tiny_dir, tmp_path / "broken"))))
    assert "loading the FLUX.1 Kontext components" in msg and "recipes/toy/rc_grpo.yaml" in msg
