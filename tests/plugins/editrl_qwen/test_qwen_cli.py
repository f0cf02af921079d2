"""The Qwen recipes through the real ``editrl run``: one shrunken RC-GRPO step on the tiny Plus pipeline trains LoRA
weights only and exports the diffusers file; a model that cannot be found stops the run at once."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from diffusers_support import check_missing_model_stops, check_step_outputs, lora_parameters, run_keeping_trainer

REPO = Path(__file__).resolve().parents[3]
RC_GRPO = REPO / "recipes" / "rc_grpo_qwen.yaml"
#: ``-p editrl_qwen`` until the entry point is installed (`pip install -e .`).
PLUGIN = [] if any(e.value == "editrl_qwen" for e in entry_points(group="editrl")) else ["-p", "editrl_qwen"]


def _tiny_overrides(tiny_dir: Path, out: Path) -> list[str]:
    return [
        "dataset={type: toy_shapes}", "rewards.0={type: cocoedit_similarity, weight: 1.0}",  # judge-free
        f"backbone.model={tiny_dir}", "backbone.dtype=fp32",
        "backbone.reference_resolution=64", "backbone.offload_encoders=false", "backbone.gradient_checkpointing=false",
        "exploration.group_size=3", "solver.steps=2", "optimizer.anchors=2", "rewards.1.layers=2",
        "train.steps=1", "train.batch_size=1", "train.device=cpu", "train.save_every=0", "eval.at_end=false",
        f"output_dir={out}",
    ]


def test_one_rc_grpo_step_changes_only_lora_weights(cli, plus_dir, tmp_path, monkeypatch):
    from diffusers import QwenImageTransformer2DModel

    _, trainer = run_keeping_trainer(cli, monkeypatch, "run", RC_GRPO, *PLUGIN, *_tiny_overrides(plus_dir, tmp_path / "run"))
    backbone = trainer.c.backbone
    assert backbone.plus  # picked from the folder's model_index.json

    pristine = QwenImageTransformer2DModel.from_pretrained(str(plus_dir), subfolder="transformer").state_dict()
    lora_total, unmoved = lora_parameters(backbone.transformer, pristine)
    # 2 blocks × 8 projections; every B moved but two of the last block: the transformer discards that block's text
    # output, so its text queries (add_q_proj: zero gradient) and to_add_out (no gradient) cannot change the velocity
    last = "transformer_blocks.1.attn."
    assert lora_total == 2 * 16 and unmoved == {last + "add_q_proj", last + "to_add_out"}, unmoved

    check_step_outputs(tmp_path / "run")


def test_a_model_that_cannot_be_found_stops_the_run_at_once(cli, tmp_path):
    check_missing_model_stops(cli, tmp_path, RC_GRPO, PLUGIN, "Qwen-Image-Edit-2509")
