"""Helpers of the Qwen-Image-Edit backbone tests (a uniquely named module: test folders share no ``conftest`` import);
what the FLUX.1 Kontext tests share with them is in ``tests/diffusers_support.py``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from diffusers_support import ensure_plugin, euler, load_backbone
from diffusers_support import make_batch as _make_batch

ensure_plugin("editrl_qwen")

__all__ = ["SMALL_REFERENCE", "euler", "make_backbone", "make_batch", "pipeline_rollout", "reference_area"]

#: The VAE reference side the fast tests use (the pipelines' 1024 gives 64×64 reference tokens with the tiny VAE;
#: 64 gives 4×4), with the pipeline patched to the same area by :func:`reference_area`.
SMALL_REFERENCE = 64


def make_backbone(tiny_dir: Path, **overrides):
    from editrl_qwen import QwenImageEdit

    settings = dict(dtype="fp32", gradient_checkpointing=False, reference_resolution=SMALL_REFERENCE)
    return load_backbone(QwenImageEdit, tiny_dir, settings, overrides)


def make_batch(n: int = 1, height: int = 64, width: int = 64, seed: int = 0, mask: bool = False):
    """Sources quantised to k/255, so that the PIL image the pipeline is given holds exactly the same pixels."""
    return _make_batch(n, height, width, seed, mask, quantise=True)


@contextlib.contextmanager
def reference_area(side: int):
    """Make both pipelines use a ``side²`` reference area instead of their fixed 1024² (the Edit pipeline's
    ``calculate_dimensions(1024 * 1024, …)`` literal, the Plus pipeline's ``VAE_IMAGE_SIZE``), as the backbone's
    ``reference_resolution`` does; the tiny VAE's encode at ≈ 1 MP takes seconds on a CPU."""
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit as edit
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as plus

    original = edit.calculate_dimensions
    edit.calculate_dimensions = lambda area, ratio: original(side * side, ratio)
    saved = plus.VAE_IMAGE_SIZE
    plus.VAE_IMAGE_SIZE = side * side
    try:
        yield
    finally:
        edit.calculate_dimensions = original
        plus.VAE_IMAGE_SIZE = saved


def pipeline_rollout(pipe, source: torch.Tensor, instruction: str, x_T: torch.Tensor, steps: int, **kw):
    """The pipeline from the grid-layout noises ``x_T [G, C, h, w]`` on one source, through the plugin's
    ``pipeline_kwargs`` (what a user runs to reproduce editrl's samples); packed final latents by default."""
    from diffusers import QwenImageEditPlusPipeline
    from editrl_qwen.backbone import pipeline_kwargs

    output_type = kw.pop("output_type", "latent")
    args = pipeline_kwargs(source, instruction, x_T, steps, plus=isinstance(pipe, QwenImageEditPlusPipeline), **kw)
    return pipe(**args, output_type=output_type).images
