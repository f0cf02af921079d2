"""Helpers of the FLUX.1 Kontext backbone tests (a uniquely named module: test folders share no ``conftest`` import);
what the Qwen-Image-Edit tests share with them is in ``tests/diffusers_support.py``."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers_support import ensure_plugin, euler, load_backbone
from diffusers_support import make_batch as _make_batch

ensure_plugin("editrl_flux")

__all__ = ["MAX_SEQ", "euler", "make_backbone", "make_batch", "pipeline_rollout"]

#: Small enough for a CPU test: 32×32 images → 16×16 latent grid → 64 target + 64 reference tokens, 16 T5 tokens.
MAX_SEQ = 16


def make_backbone(tiny_dir: Path, **overrides):
    from editrl_flux import FluxKontext

    settings = dict(dtype="fp32", resolution=None, max_sequence_length=MAX_SEQ, gradient_checkpointing=False)
    return load_backbone(FluxKontext, tiny_dir, settings, overrides)


def make_batch(n: int = 1, height: int = 32, width: int = 32, seed: int = 0, mask: bool = False):
    return _make_batch(n, height, width, seed, mask)


def pipeline_rollout(pipe, source: torch.Tensor, instruction: str, x_T: torch.Tensor, steps: int, **kw):
    """``FluxKontextPipeline`` from the grid-layout noises ``x_T [G, C, h, w]`` on one source, through the plugin's
    ``pipeline_kwargs`` (what a user runs to reproduce editrl's samples); packed final latents by default."""
    from editrl_flux.backbone import pipeline_kwargs

    output_type = kw.pop("output_type", "latent")
    args = pipeline_kwargs(source, instruction, x_T, steps, max_sequence_length=MAX_SEQ)
    return pipe(**args, output_type=output_type, **kw).images
