"""LoRA on the attention projections, and the diffusers-format export that FluxKontextPipeline loads."""

from __future__ import annotations

import torch
from flux_helpers import euler, make_backbone, make_batch, pipeline_rollout
from peft import LoraConfig

from editrl.engine.lora import LoraController
from editrl.engine.rollout import integrate


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
    lora = LoraController(
        bb.denoiser, LoraConfig(r=4, lora_alpha=8, target_modules=list(bb.default_lora_targets))  # scale 2
    )
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in lora.trainable_parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))  # lora_B starts at zero: make the update non-zero

    batch = make_batch(1, seed=9)
    G, K = 2, 3
    shape = bb.latent_shape(batch)
    x_T = torch.randn(G, *shape, generator=torch.Generator().manual_seed(12))
    cond = bb.encode_condition(batch).repeat_interleave(G)
    sig = bb.sigmas(K, shape)
    trained, _ = integrate(bb, euler(K), x_T, cond, sig)
    with lora.disabled():
        base, _ = integrate(bb, euler(K), x_T, cond, sig)
    assert float((trained - base).abs().max()) > 1e-2  # the LoRA matters

    files = bb.export_lora(lora.state_dict(), tmp_path / "export")
    assert [f.name for f in files] == ["pytorch_lora_weights.safetensors"] and files[0].exists()
    from safetensors import safe_open

    with safe_open(str(files[0]), "pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("transformer.") for k in keys)

    fresh = FluxKontextPipeline.from_pretrained(str(tiny_dir))
    fresh.set_progress_bar_config(disable=True)
    fresh.load_lora_weights(str(tmp_path / "export"))
    ref = pipeline_rollout(fresh, batch.source[0], batch.instructions[0], x_T, K)
    diff = float((pack(trained) - ref).abs().max())
    print(f"exported LoRA through diffusers: max|diff| {diff}")
    assert diff <= 1e-5
