"""A probe: how much of the judge could an editor gain by picking among its own samples, and where do the errors sit?
(benchmarks/results/toy_base_editor_history.md, "What the samples hold and what RL takes")

Group-relative RL can only learn from differences between the candidates an editor samples. For each editor (a
``.safetensors`` written by ``editrl toy pretrain``, ``builtin``, or a finished run's directory, its LoRA active)
this samples every held-out example from N initial noises (seeds ``eval.seed``, ``eval.seed + 1``, ...; the first is
the noise of every run's final table) and prints:

- the judge's overall score of the first noise's samples, the mean over all N, and the mean of each example's best
  of N, with that best-of-N lift as a share of the gap from the first noise's score to the ground truth (10);
- the semantic and consistency scores, averaged over all N samples and over each example's best one;
- the within-example std of the overall score (the spread a group sees);
- the background's squared error against the source (mean over channels, pixels and the N samples) in rings at
  1–2, 3–5, 6–10 and over 10 px from the edit mask (Chebyshev distance), and over the whole background.

    python benchmarks/probes/toy_best_of.py builtin W/toy_editor.safetensors runs/RUN [--noises 8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from editrl.interfaces import EditBatch
from editrl_toy.backbone import ToyEditor, ToyEditorConfig
from editrl_toy.calibration import trained_editor
from editrl_toy.dataset import ToyShapes, ToyShapesConfig
from editrl_toy.evaluate import EVAL_SEED, row_scores, sample

#: Outer radii (px) of the background rings around the edit mask; the last ring is everything beyond 10 px.
RING_RADII = (2, 5, 10, 64)


def editor(spec: str) -> ToyEditor:
    """The toy editor named on the command line: a run directory, or weights for ``ToyEditorConfig.weights``."""
    if Path(spec).is_dir():
        return trained_editor(Path(spec))
    backbone = ToyEditor(ToyEditorConfig(weights=spec))
    backbone.load(torch.device("cpu"))
    return backbone


def rings(edit: torch.Tensor) -> list[torch.Tensor]:
    """Disjoint background rings ``[N, 1, H, W]`` around ``edit [N, 1, H, W]`` (1 = edit), one per radius."""
    out, inner = [], edit
    for r in RING_RADII:
        grown = F.max_pool2d(edit, 2 * r + 1, stride=1, padding=r)  # [N, 1, H, W], Chebyshev dilation by r
        out.append((grown - inner).clamp(0, 1))
        inner = grown
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("editors", nargs="+", help="builtin, a toy_editor.safetensors file, or a run directory")
    parser.add_argument("--noises", type=int, default=8, help="initial noises per example (N, the group size)")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    examples = list(ToyShapes(ToyShapesConfig(seed=0)).split("eval"))
    batch = EditBatch.collate(examples)
    edit = (batch.mask > 0.5).float()  # [E, 1, H, W]
    regions = [*rings(edit), 1 - edit]  # each [E, 1, H, W]
    for spec in args.editors:
        backbone = editor(spec)
        # step 1: N samples per example and their scores
        overall, semantic, consistency, errors = [], [], [], []
        for j in range(args.noises):
            images = sample(backbone, examples, seed=EVAL_SEED + j)  # [E, 3, H, W]
            scores = row_scores(batch, images)
            overall.append(scores["overall"])
            semantic.append(scores["semantic"])
            consistency.append(scores["consistency"])
            sq = ((images - batch.source) ** 2).mean(dim=1, keepdim=True)  # [E, 1, H, W]
            errors.append(torch.stack([(sq * m).sum() / m.sum() for m in regions]))  # [5]
        o, s, c = torch.stack(overall), torch.stack(semantic), torch.stack(consistency)  # each [N, E]
        # step 2: each example's best sample, and the lift of picking it
        best = o.argmax(dim=0)  # [E]
        idx = torch.arange(o.shape[1])
        first, mean, best_mean = float(o[0].mean()), float(o.mean()), float(o[best, idx].mean())
        gap = 10.0 - first
        print(f"{spec}: judge {first:.3f} (first noise), {mean:.3f} (mean of {args.noises}), {best_mean:.3f} "
              f"(best of {args.noises}: {best_mean - mean:+.3f}, {100 * (best_mean - mean) / gap:.1f} % of the gap)")
        print(f"  semantic {float(s.mean()):.2f} → {float(s[best, idx].mean()):.2f} at the best, consistency "
              f"{float(c.mean()):.2f} → {float(c[best, idx].mean()):.2f}; within-example std "
              f"{float(o.std(dim=0).mean()):.3f}")
        # step 3: where the background errors sit
        err = torch.stack(errors).mean(dim=0) * 1e3  # [5]
        print("  background squared error ×1e3 at 1–2 / 3–5 / 6–10 / > 10 px from the mask / all: "
              + " / ".join(f"{float(v):.2f}" for v in err))


if __name__ == "__main__":
    main()
