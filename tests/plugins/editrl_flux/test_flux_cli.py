"""The FLUX recipes through the real ``editrl run``: one shrunken RC-GRPO step on the tiny Kontext pipeline trains
LoRA weights only; a model that cannot be found stops the run at once with the clear message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[3]
RC_GRPO = REPO / "recipes" / "rc_grpo.yaml"


def _tiny_overrides(tiny_dir: Path, out: Path) -> list[str]:
    return [
        "dataset={type: toy_shapes}", f"backbone.model={tiny_dir}", "backbone.dtype=fp32", "backbone.max_sequence_length=16",
        "exploration.group_size=3", "solver.steps=2", "optimizer.anchors=2",
        "train.steps=1", "train.batch_size=1", "train.device=cpu", "train.save_every=0", "eval.at_end=false",
        f"output_dir={out}",
    ]


def _run(*args) -> tuple[int, str]:
    from editrl.cli import build_app

    result = CliRunner().invoke(build_app(), [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.skipif(not RC_GRPO.exists(), reason="recipes/rc_grpo.yaml not present")
def test_one_rc_grpo_step_changes_only_lora_weights(tiny_dir, tmp_path, monkeypatch):
    from diffusers import AutoencoderKL, FluxTransformer2DModel
    from safetensors.torch import load_file

    from editrl.engine.trainer import Trainer

    trainers = []
    setup = Trainer.setup

    def keep(self):
        trainers.append(self)
        return setup(self)

    monkeypatch.setattr(Trainer, "setup", keep)
    code, output = _run("run", RC_GRPO, *_tiny_overrides(tiny_dir, tmp_path / "run"))
    assert code == 0, output
    (trainer,) = trainers
    backbone = trainer.c.backbone

    pristine = FluxTransformer2DModel.from_pretrained(str(tiny_dir), subfolder="transformer").state_dict()
    lora_changed, lora_total = 0, 0
    for name, p in backbone.transformer.named_parameters():
        if "lora_" in name:
            lora_total += 1
            lora_changed += "lora_B" in name and bool(p.detach().abs().sum() > 0)  # lora_B starts at 0
            continue
        assert torch.equal(p.detach(), pristine[name.replace(".base_layer", "")]), name
    assert lora_total == 2 * 22 and lora_changed == 22  # every adapter's B moved in the one step
    vae = AutoencoderKL.from_pretrained(str(tiny_dir), subfolder="vae").state_dict()
    assert all(torch.equal(p, vae[n]) for n, p in backbone.vae.state_dict().items())

    step = tmp_path / "run" / "checkpoints" / "step_000001"
    lora = load_file(str(step / "lora.safetensors"))
    exported = load_file(str(step / "pytorch_lora_weights.safetensors"))
    assert {f"transformer.{k}" for k in lora} == set(exported)
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert "reward/acd/mean" in metrics and "reward/cocoedit_similarity/mean" in metrics


@pytest.mark.skipif(not RC_GRPO.exists(), reason="recipes/rc_grpo.yaml not present")
def test_a_model_that_cannot_be_found_stops_the_run_at_once(tmp_path):
    missing = tmp_path / "no" / "FLUX.1-Kontext-dev"
    start = time.perf_counter()
    code, output = _run("run", RC_GRPO, f"backbone.model={missing}", f"output_dir={tmp_path / 'run'}")
    elapsed = time.perf_counter() - start
    flat = " ".join(output.split())
    assert code == 2 and "Traceback" not in output, output
    assert "FLUX.1-Kontext-dev" in flat and "backbone.model=/path" in flat and "recipes/toy/rc_grpo.yaml" in flat
    assert elapsed < 10, elapsed
    assert not (tmp_path / "run" / "checkpoints").exists()
