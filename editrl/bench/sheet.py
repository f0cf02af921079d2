"""Image sheets: a grid of images, one row per example and one column per image kind (source, edits, target).

Shared by the run's ``samples.png`` (source | base | trained | target) and the bench's sample sheet (source | base
| each variant | target). Drawn with matplotlib's object API on the Agg canvas (no pyplot state, no display).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch


def save_sheet(path: Path, columns: dict[str, torch.Tensor], row_labels: list[str], title: str = "") -> Path:
    """Write a PNG grid: ``columns`` maps a heading to ``[S, 3, H, W]`` images in [0, 1]; one row per example.

    ``row_labels`` (S strings, e.g. the instruction) are written left of each row.
    """
    from matplotlib.figure import Figure

    rows = len(row_labels)
    if rows == 0 or not columns:
        raise ValueError("a sheet needs at least one example and one column")
    for name, images in columns.items():
        if images.ndim != 4 or images.shape[0] != rows:
            raise ValueError(f"sheet column {name!r}: expected [{rows}, 3, H, W], got {list(images.shape)}")
    cell = 1.6
    fig = Figure(figsize=(cell * len(columns) + 1.6, cell * rows + (0.5 if title else 0.2)))
    axes = fig.subplots(rows, len(columns), squeeze=False)
    for c, (name, images) in enumerate(columns.items()):
        pictures = images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()  # [S, H, W, 3]
        for r in range(rows):
            ax = axes[r][c]
            ax.imshow(pictures[r], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(textwrap.shorten(name, 24), fontsize=8)
            if c == 0:
                ax.set_ylabel(textwrap.fill(textwrap.shorten(row_labels[r], 60), 20), fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
