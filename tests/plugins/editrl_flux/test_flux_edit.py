"""``editrl edit`` on the FLUX recipe with the tiny Kontext pipeline: the edit it writes is what
``FluxKontextPipeline`` makes from the same source, instruction and seed noise (the papers' inference), and a source
the backbone cannot take is refused with exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from flux_helpers import MAX_SEQ, pipeline_rollout
from PIL import Image

REPO = Path(__file__).resolve().parents[3]
RC_GRPO = REPO / "recipes" / "rc_grpo.yaml"
STEPS = 2
INSTRUCTION = "add a red hat"


def _overrides(tiny_dir: Path) -> list[str]:
    return [
        "dataset={type: toy_shapes}", "rewards.0={type: cocoedit_similarity, weight: 1.0}",  # no data, no judge
        f"backbone.model={tiny_dir}", "backbone.dtype=fp32", f"backbone.max_sequence_length={MAX_SEQ}",
        "backbone.resolution=null", f"solver.steps={STEPS}", "train.device=cpu",
    ]


def _png(path: Path, height: int, width: int) -> Path:
    pixels = (np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8)  # [H, W, 3]
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.skipif(not RC_GRPO.exists(), reason="recipes/rc_grpo.yaml not present")
def test_edit_equals_the_kontext_pipeline(cli, tiny_dir, pipe, tmp_path):
    from editrl.cli.edit import read_image

    source, out = _png(tmp_path / "in.png", 32, 48), tmp_path / "out.png"
    result = cli("edit", RC_GRPO, *_overrides(tiny_dir), "--source", source, "--instruction", INSTRUCTION,
                 "-o", out, "--seed", 7)
    assert result.exit_code == 0, result.output
    assert "resized" not in result.output  # 32×48: multiples of 16, edited at its own size
    edited = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)  # [H, W, 3]
    assert edited.shape == (32, 48, 3)
    # the pipeline from the same noise: the seed's [1, C, H/f, W/f] grid latents (f: the VAE's scale factor), packed
    channels = pipe.transformer.config.in_channels // 4
    factor = pipe.vae_scale_factor
    x_T = torch.randn(1, channels, 32 // factor, 48 // factor, generator=torch.Generator().manual_seed(7))
    ref = pipeline_rollout(pipe, read_image(source), INSTRUCTION, x_T, STEPS, output_type="pt")  # [1, 3, H, W]
    expected = (ref[0].clamp(0, 1) * 255).round().to(torch.int16).permute(1, 2, 0).numpy()  # [H, W, 3]
    assert np.abs(edited - expected).max() <= 1  # one 8-bit level of rounding at most


@pytest.mark.skipif(not RC_GRPO.exists(), reason="recipes/rc_grpo.yaml not present")
def test_a_source_the_backbone_cannot_take_is_refused(cli, tiny_dir, tmp_path):
    source = _png(tmp_path / "odd.png", 30, 30)
    result = cli("edit", RC_GRPO, *_overrides(tiny_dir), "--source", source, "--instruction", INSTRUCTION,
                 "-o", tmp_path / "out.png")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "30×30" in result.output and not (tmp_path / "out.png").exists()
