"""A probe: where does a toy editor's edit gate open?
(benchmarks/results/toy_base_editor_history.md, "Other base editors")

The toy editor predicts ``x̂_0 = source + g ⊙ F(...)`` with a per-pixel gate ``g = sigmoid(logits)``. Where g is near
0 the editor copies the source; where it is near 1 it re-renders the pixel from its network, and a LoRA update can
move it. For each weights file this prints the mean gate inside and outside the edit mask on held-out examples, from
pure noise (σ = 1, the first sampling step) and at σ = 0.5 and 0.1.

    python benchmarks/probes/toy_gate.py plugins/editrl_toy/weights/toy_editor.safetensors [MORE.safetensors ...]
"""

from __future__ import annotations

import argparse

import torch
from safetensors.torch import load_file

from editrl.interfaces import EditBatch
from editrl_toy.backbone import ToyEditorConfig, build_network
from editrl_toy.dataset import ToyShapes, ToyShapesConfig
from editrl_toy.vocabulary import tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="+", help="toy_editor.safetensors files")
    parser.add_argument("--examples", type=int, default=48, help="held-out examples")
    args = parser.parse_args()
    torch.set_num_threads(1)
    arch = ToyEditorConfig(weights="random")
    batch = EditBatch.collate(list(ToyShapes(ToyShapesConfig(seed=0)).split("eval"))[: args.examples])
    text, text_mask = tokenize(batch.instructions, arch.max_text_len)  # [M, T] each
    M = len(batch)
    edit = batch.mask  # [M, 1, H, W], 1 = edit
    noise = torch.randn(batch.source.shape, generator=torch.Generator().manual_seed(0))  # [M, 3, H, W]
    for path in args.weights:
        net = build_network(arch)
        net.load_state_dict(load_file(path))
        net.eval()
        cells = []
        with torch.no_grad():
            for sigma in (1.0, 0.5, 0.1):
                # the state on the straight path from the source (as a stand-in for x_0) to the noise
                x = (1 - sigma) * (batch.source * 2 - 1) + sigma * noise  # [M, 3, H, W]
                _, logits = net.predict(x, torch.full((M,), sigma), text, text_mask, batch.source * 2 - 1)
                gate = torch.sigmoid(logits)  # [M, 1, H, W]
                inside = float((gate * edit).sum() / edit.sum())
                outside = float((gate * (1 - edit)).sum() / (1 - edit).sum())
                cells.append(f"σ={sigma}: inside {inside:.3f}, outside {outside:.3f}")
        print(f"{path}: " + " | ".join(cells))


if __name__ == "__main__":
    main()
