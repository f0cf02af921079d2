"""Helpers of the FLUX.1 Kontext backbone tests (a uniquely named module: test folders share no ``conftest`` import)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

if importlib.util.find_spec("editrl_flux") is None:  # until the entry point is installed (`pip install -e .`)
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "plugins"))

#: Small enough for a CPU test: 32×32 images → 16×16 latent grid → 64 target + 64 reference tokens, 16 T5 tokens.
MAX_SEQ = 16


def make_backbone(tiny_dir: Path, **overrides):
    from editrl_flux import FluxKontext, FluxKontextConfig

    settings = dict(
        model=str(tiny_dir), dtype="fp32", resolution=None, max_sequence_length=MAX_SEQ, gradient_checkpointing=False
    )
    settings.update(overrides)
    backbone = FluxKontext(FluxKontextConfig(**settings))
    backbone.load(torch.device("cpu"))
    return backbone


def make_batch(n: int = 1, height: int = 32, width: int = 32, seed: int = 0, mask: bool = False):
    from editrl.interfaces import EditBatch, EditExample

    g = torch.Generator().manual_seed(seed)
    words = ["make the sky red", "add a small hat", "remove the cup", "turn it into a painting"]
    examples = []
    for i in range(n):
        m = None
        if mask:
            m = torch.zeros(1, height, width)
            m[:, height // 4 : height // 2, width // 8 : width // 2] = 1
        examples.append(
            EditExample(id=f"e{i}", source=torch.rand(3, height, width, generator=g), instruction=words[i % 4], mask=m)
        )
    return EditBatch.collate(examples)


def euler(steps: int):
    from editrl.interfaces.solver import SolverConfig
    from editrl_solvers import Euler

    return Euler(SolverConfig(steps=steps))


def pipeline_rollout(pipe, source: torch.Tensor, instruction: str, x_T: torch.Tensor, steps: int, **kw):
    """``FluxKontextPipeline`` from the grid-layout noises ``x_T [G, C, h, w]`` on one source, through the plugin's
    ``pipeline_kwargs`` (what a user runs to reproduce editrl's samples); packed final latents by default."""
    from editrl_flux.backbone import pipeline_kwargs

    output_type = kw.pop("output_type", "latent")
    args = pipeline_kwargs(source, instruction, x_T, steps, max_sequence_length=MAX_SEQ)
    return pipe(**args, output_type=output_type, **kw).images
