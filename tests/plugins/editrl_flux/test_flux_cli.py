"""The FLUX recipes through the real ``editrl run``: one shrunken RC-GRPO step on the tiny Kontext pipeline trains
LoRA weights only; a model that cannot be found stops the run at once with the clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers_support import check_missing_model_stops, check_step_outputs, lora_parameters, run_keeping_trainer

REPO = Path(__file__).resolve().parents[3]
RC_GRPO = REPO / "recipes" / "rc_grpo.yaml"


def _tiny_overrides(tiny_dir: Path, out: Path) -> list[str]:
    return [
        "dataset={type: toy_shapes}", "rewards.0={type: cocoedit_similarity, weight: 1.0}",  # judge-free
        f"backbone.model={tiny_dir}", "backbone.dtype=fp32", "backbone.max_sequence_length=16",
        "exploration.group_size=3", "solver.steps=2", "optimizer.anchors=2",
        "train.steps=1", "train.batch_size=1", "train.device=cpu", "train.save_every=0", "eval.at_end=false",
        f"output_dir={out}",
    ]


@pytest.mark.skipif(not RC_GRPO.exists(), reason="recipes/rc_grpo.yaml not present")
def test_one_rc_grpo_step_changes_only_lora_weights(cli, tiny_dir, tmp_path, monkeypatch):
    from diffusers import AutoencoderKL, FluxTransformer2DModel

    _, trainer = run_keeping_trainer(cli, monkeypatch, "run", RC_GRPO, *_tiny_overrides(tiny_dir, tmp_path / "run"))
    backbone = trainer.c.backbone

    pristine = FluxTransformer2DModel.from_pretrained(str(tiny_dir), subfolder="transformer").state_dict()
    lora_total, unmoved = lora_parameters(backbone.transformer, pristine)
    assert lora_total == 2 * 22 and unmoved == set(), unmoved  # every adapter's B moved in the one step
    vae = AutoencoderKL.from_pretrained(str(tiny_dir), subfolder="vae").state_dict()
    assert all(torch.equal(p, vae[n]) for n, p in backbone.vae.state_dict().items())

    check_step_outputs(tmp_path / "run")


@pytest.mark.skipif(not RC_GRPO.exists(), reason="recipes/rc_grpo.yaml not present")
def test_a_model_that_cannot_be_found_stops_the_run_at_once(cli, tmp_path):
    check_missing_model_stops(cli, tmp_path, RC_GRPO, [], "FLUX.1-Kontext-dev")
