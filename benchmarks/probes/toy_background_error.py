"""A probe: what is a toy editor's background error made of, and does RL make it grow?
(benchmarks/results/toy_base_editor.md, "How it was made")

For each editor (``builtin``, a ``toy_editor.safetensors`` file, or a finished run's directory, its LoRA active) this
samples the 96 held-out examples from the evaluation noise and splits the background error ``e = (x − s)·(1 − m)``
(x the edit, s the source, m the edit mask) by least squares per example, in this order:

1. along the spill-over template ``blur_r(t − s)·(1 − m)`` (t the target; ``r`` = ``--spill-radius``, the editor's
   pretraining spill radius): the designed spill;
2. along the example's initial noise ``ε·(1 − m)``: noise the sampler left behind;
3. along the edit colour's offset from the source ``(c − s)·(1 − m)``, c the target's mean colour in the mask: the
   instruction's colour painted outside the edit.

It prints the total squared error (summed over examples, channels and pixels), what is left after each step, the mean
coefficient of each template, and the share of the last residual's energy that 4×4 block means carry (the toy
editor's patches are 4×4, so errors made per token are block-constant).

    python benchmarks/probes/toy_background_error.py builtin runs/RUN [--spill-radius 2]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from editrl.interfaces import EditBatch
from editrl_toy.dataset import ToyShapes, ToyShapesConfig
from editrl_toy.evaluate import EVAL_SEED, LATENT_SHAPE, sample
from editrl_toy.imperfect import gaussian_blur
from toy_best_of import editor


def remove(e: torch.Tensor, template: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example least-squares coefficient of ``template`` in ``e`` (both ``[E, 3, H, W]``) → (coef ``[E]``,
    the residual ``[E, 3, H, W]``)."""
    coef = (e * template).sum((1, 2, 3)) / (template * template).sum((1, 2, 3)).clamp_min(1e-12)
    return coef, e - coef.view(-1, 1, 1, 1) * template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("editors", nargs="+", help="builtin, a toy_editor.safetensors file, or a run directory")
    parser.add_argument("--spill-radius", type=float, default=2.0, help="σ (px) of the spill template's blur")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    examples = list(ToyShapes(ToyShapesConfig(seed=0)).split("eval"))
    b = EditBatch.collate(examples)
    keep = 1 - (b.mask > 0.5).float()  # [E, 1, H, W]
    noise = torch.randn((len(examples), *LATENT_SHAPE), generator=torch.Generator().manual_seed(EVAL_SEED))
    colour = (b.target * (1 - keep)).sum((2, 3)) / (1 - keep).sum((2, 3)).clamp_min(1)  # [E, 3]
    templates = {
        "spill": gaussian_blur(b.target - b.source, args.spill_radius) * keep,  # [E, 3, H, W]
        "noise": noise * keep,
        "colour": (colour[:, :, None, None] - b.source) * keep,
    }
    print("| editor | background sq. error | after spill / noise / colour | coef spill / noise / colour "
          "| block-mean share |")
    print("|---|---:|---|---|---:|")
    for spec in args.editors:
        # step 1: the background error of the evaluation-noise samples
        e = (sample(editor(spec), examples, seed=EVAL_SEED) - b.source) * keep  # [E, 3, H, W]
        total = float(e.pow(2).sum())
        # step 2: take the templates out one after another
        left, coefs = [], []
        for template in templates.values():
            coef, e = remove(e, template)
            left.append(float(e.pow(2).sum()))
            coefs.append(float(coef.mean()))
        # step 3: how block-constant the rest is
        block = 16 * float(F.avg_pool2d(e, 4).pow(2).sum()) / max(left[-1], 1e-12)
        print(f"| {spec} | {total:.0f} | {' / '.join(f'{v:.0f}' for v in left)} | "
              f"{' / '.join(f'{c:.3f}' for c in coefs)} | {block:.2f} |")


if __name__ == "__main__":
    main()
