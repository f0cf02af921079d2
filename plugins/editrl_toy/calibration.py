"""Calibration of the toy testbed (``editrl toy calibrate``): how the judge's sub-scores are spread per task.

For the base editor and, optionally, the trained editors of finished runs, on the eval split with the fixed
evaluation noise: quantiles of the judge's semantic, consistency and overall scores and of the background PSNR, the
number of rows a clamp of the judge holds, and how much the overall score moves when only the initial noise changes
(the signal group-relative RL learns from).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import torch

from editrl.errors import EditrlError
from editrl.interfaces import EditBatch, EditExample
from editrl_toy.backbone import ToyEditor
from editrl_toy.evaluate import EVAL_SEED, row_scores, sample
from editrl_toy.world import TASKS

#: Quantiles reported per sub-score.
QUANTILES = (0.1, 0.5, 0.9)
#: Sub-scores reported, with their column titles.
COLUMNS = {"semantic": "semantic", "consistency": "consistency", "overall": "overall", "bg_psnr": "bg PSNR dB"}


@torch.no_grad()
def editor_scores(
    backbone: ToyEditor, examples: Sequence[EditExample], steps: int = 8, seed: int = EVAL_SEED, group: int = 0
) -> dict[str, torch.Tensor]:
    """Per-example scores ``[N]`` of ``backbone``'s samples (see :func:`editrl_toy.evaluate.row_scores`).

    With ``group > 0`` also ``noise_std``: per example, the std over ``group`` further noises (seeds ``seed + 1``,
    ``seed + 2``, ...) of the judge's overall score.
    """
    batch = EditBatch.collate(examples)
    scores = row_scores(batch, sample(backbone, examples, steps=steps, seed=seed))
    if group > 0:
        seeds = [seed + 1 + j for j in range(group)]
        overall = torch.stack(
            [row_scores(batch, sample(backbone, examples, steps=steps, seed=s))["overall"] for s in seeds]
        )  # [G, N]
        scores["noise_std"] = overall.std(dim=0)  # [N]
    return scores


def trained_editor(run_dir: Path) -> ToyEditor:
    """The toy editor of a finished ``editrl run`` with its latest checkpoint's LoRA active."""
    from editrl.engine.build import build_components, load_recipe
    from editrl.engine.checkpoint import latest_checkpoint, load_checkpoint
    from editrl.engine.lora import LoraController, lora_config

    recipe_file = run_dir / "recipe.yaml"
    if not recipe_file.is_file():
        raise EditrlError(f"run: {run_dir} has no recipe.yaml; is it a run directory written by `editrl run`?")
    recipe, registry = load_recipe(recipe_file)
    if recipe.backbone.type != ToyEditor.name:
        raise EditrlError(f"run: {run_dir} trains backbone {recipe.backbone.type!r}, not {ToyEditor.name!r}")
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    if checkpoint is None:
        raise EditrlError(f"run: {run_dir} has no complete checkpoint yet")
    backbone = build_components(recipe, registry).backbone
    backbone.load(torch.device("cpu"))
    lora = LoraController(backbone.denoiser, lora_config(recipe.lora, backbone))
    lora.load_state_dict(load_checkpoint(checkpoint)[0])
    return backbone


def sample_sheet(
    path: Path, examples: Sequence[EditExample], images: dict[str, torch.Tensor], columns: int = 2
) -> None:
    """A PNG of the examples, one per row: instruction, source, each editor's ``[N, 3, 32, 32]`` sample, target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {"source": torch.stack([ex.source for ex in examples]), **images}
    panels["target"] = torch.stack([ex.target for ex in examples])
    rows = -(-len(examples) // columns)
    width = len(panels)
    fig, axes = plt.subplots(rows, width * columns, figsize=(1.1 * width * columns, 1.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ex in enumerate(examples):
        r, c0 = i // columns, (i % columns) * width
        for j, (label, imgs) in enumerate(panels.items()):
            ax = axes[r, c0 + j]
            ax.imshow(imgs[i].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            title = textwrap.fill(ex.instruction, 22) if j == 0 else textwrap.fill(label, 18)
            ax.set_title(title, fontsize=5.5)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.96, wspace=0.08, hspace=0.45)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(tasks: Sequence[str], rows: dict[str, dict[str, torch.Tensor]]) -> str:
    """One line per (editor, task): ``q10 / q50 / q90`` of each sub-score, the clamp counts and the noise spread.

    Args:
        tasks: the task type of each of the N examples.
        rows: editor label → :func:`editor_scores` output.
    """
    quant = " / ".join(f"q{round(100 * q)}" for q in QUANTILES)
    head = ["editor", "task", "n", *(f"{title} {quant}" for title in COLUMNS.values())]
    head += ["semantic floor", "consistency cap", "noise std of overall"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    q = torch.tensor(QUANTILES)
    for label, scores in rows.items():
        for task in [t for t in TASKS if t in tasks] + ["all"]:
            sel = torch.tensor([task == "all" or t == task for t in tasks])
            cells = [label, task, str(int(sel.sum()))]
            for key in COLUMNS:
                cells.append(" / ".join(f"{v:.2f}" for v in torch.quantile(scores[key][sel].double(), q.double())))
            cells += [str(int(scores["semantic_floor"][sel].sum())), str(int(scores["consistency_cap"][sel].sum()))]
            cells.append(f"{float(scores['noise_std'][sel].mean()):.3f}" if "noise_std" in scores else "")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
