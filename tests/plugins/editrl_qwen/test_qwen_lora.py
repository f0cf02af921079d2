"""LoRA on the attention projections, and the diffusers-format export the Qwen pipelines load."""

from __future__ import annotations

from diffusers_support import export_keys, quiet_pipeline, trained_and_base_rollouts
from peft import LoraConfig
from qwen_helpers import SMALL_REFERENCE, make_backbone, make_batch, pipeline_rollout, reference_area

from editrl.diffusers.packing import pack
from editrl.engine.lora import LoraController


def test_default_targets_wrap_every_attention_projection(edit_dir):
    bb = make_backbone(edit_dir)
    LoraController(bb.denoiser, LoraConfig(r=2, lora_alpha=2, target_modules=list(bb.default_lora_targets)))
    wrapped = {n.rsplit(".lora_A", 1)[0] for n, _ in bb.transformer.named_parameters() if "lora_A" in n}
    assert len(wrapped) == 2 * 8  # 2 blocks × (image q, k, v, out + text q, k, v, out)
    assert not any("mlp" in w or "mod" in w or w.startswith(("proj_out", "img_in", "txt_in")) for w in wrapped)


def test_exported_lora_loads_into_the_plus_pipeline_and_reproduces_the_rollout(plus_dir, tmp_path):
    from diffusers import QwenImageEditPlusPipeline
    bb = make_backbone(plus_dir)
    batch = make_batch(1, 64, 64, seed=9)
    K = 3
    lora, x_T, trained, base = trained_and_base_rollouts(bb, batch, K=K)
    assert float((trained - base).abs().max()) > 1e-2  # the LoRA matters (scale α/r = 2 must survive the export)

    keys = export_keys(bb, lora, tmp_path / "export")
    assert all(k.startswith("transformer.transformer_blocks.") for k in keys)

    fresh = quiet_pipeline(QwenImageEditPlusPipeline, plus_dir)
    fresh.load_lora_weights(str(tmp_path / "export"))
    with reference_area(SMALL_REFERENCE):
        ref = pipeline_rollout(fresh, batch.source[0], batch.instructions[0], x_T, K, true_cfg_scale=1.0)
    diff = float((pack(trained) - ref).abs().max())
    print(f"exported LoRA through diffusers: max|diff| {diff}")
    assert diff <= 1e-5
