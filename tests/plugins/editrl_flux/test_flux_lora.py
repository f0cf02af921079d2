"""LoRA on the attention projections, and the diffusers-format export that FluxKontextPipeline loads."""

from __future__ import annotations

from diffusers_support import export_keys, quiet_pipeline, trained_and_base_rollouts
from flux_helpers import make_backbone, make_batch, pipeline_rollout
from peft import LoraConfig

from editrl.engine.lora import LoraController


def test_default_targets_wrap_every_attention_projection(tiny_dir):
    bb = make_backbone(tiny_dir)
    lora = LoraController(bb.denoiser, LoraConfig(r=2, lora_alpha=2, target_modules=list(bb.default_lora_targets)))
    wrapped = {n.rsplit(".", 1)[0] for n, _ in bb.transformer.named_parameters() if "lora_A" in n}
    wrapped = {w.rsplit(".lora_A", 1)[0] for w in wrapped}
    # 2 dual-stream blocks × 8 projections + 2 single-stream blocks × q, k, v; never the final proj_out
    assert len(wrapped) == 2 * 8 + 2 * 3
    assert not any(w == "proj_out" or "ff" in w for w in wrapped)
    assert all(p.requires_grad for p in lora.trainable_parameters())


def test_exported_lora_loads_into_the_pipeline_and_reproduces_the_rollout(tiny_dir, tmp_path):
    from diffusers import FluxKontextPipeline
    from editrl_flux.backbone import pack

    bb = make_backbone(tiny_dir)
    batch = make_batch(1, seed=9)
    K = 3
    lora, x_T, trained, base = trained_and_base_rollouts(bb, batch, K=K)
    assert float((trained - base).abs().max()) > 1e-2  # the LoRA matters

    keys = export_keys(bb, lora, tmp_path / "export")
    assert keys and all(k.startswith("transformer.") for k in keys)

    fresh = quiet_pipeline(FluxKontextPipeline, tiny_dir)
    fresh.load_lora_weights(str(tmp_path / "export"))
    ref = pipeline_rollout(fresh, batch.source[0], batch.instructions[0], x_T, K)
    diff = float((pack(trained) - ref).abs().max())
    print(f"exported LoRA through diffusers: max|diff| {diff}")
    assert diff <= 1e-5
