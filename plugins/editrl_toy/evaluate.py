"""Per-task evaluation of the toy world: copy-the-source, ground truth and an editor, on the eval split."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from editrl.config.schema import EvalSettings
from editrl.engine.rollout import integrate
from editrl.interfaces import EditBatch, EditExample, RewardInputs
from editrl_toy.backbone import LATENT_SHAPE, ToyEditor
from editrl_toy.judge import ToyJudge
from editrl_toy.world import TASKS

#: Rows of the baseline table, in order.
ROWS = ("copy source", "ground truth", "base editor")
#: Seed of the fixed sampling noise: a recipe's ``eval.seed`` default, so that ``editrl toy baseline`` and a run's
#: final table score the base editor on the same noises (both draw ``[N, 3, 32, 32]`` at once from this seed).
EVAL_SEED: int = EvalSettings.model_fields["seed"].default
#: Metric columns per task: the judge's semantic (foreground) score, background PSNR (dB), the judge's overall.
METRICS = ("foreground", "bg_psnr", "overall")


def euler_solver(steps: int):
    """The registry's Euler solver with ``steps`` steps.

    Only the builtin ``editrl_solvers`` plugin is loaded, so that an unrelated broken plugin cannot stop an evaluation.
    """
    from editrl.plugin_manager import build_registry, get_plugin_manager

    pm = get_plugin_manager(entrypoints=False, extra_modules=["editrl_solvers"])
    cls = build_registry(pm).get("solver", "euler")
    return cls(cls.Config(steps=steps))


@torch.no_grad()
def sample(
    backbone: ToyEditor, examples: Sequence[EditExample], steps: int = 8, seed: int = EVAL_SEED, batch_size: int = 64
) -> torch.Tensor:
    """Deterministic Euler samples ``[N, 3, 32, 32]`` in [0, 1], one per example, from fixed noise.

    The noises ``[N, 3, 32, 32]`` are drawn at once from ``torch.Generator().manual_seed(seed)``, so a sample does
    not depend on ``batch_size``.
    """
    solver = euler_solver(steps)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn((len(examples), *LATENT_SHAPE), generator=gen)  # [N, 3, 32, 32]
    sigmas = backbone.sigmas(steps, LATENT_SHAPE)
    out = []
    for start in range(0, len(examples), batch_size):
        batch = EditBatch.collate(examples[start : start + batch_size])
        cond = backbone.encode_condition(batch)
        x_T = noise[start : start + len(batch)].to(backbone.device)
        x0, _ = integrate(backbone, solver, x_T, cond, sigmas)
        out.append(backbone.decode(x0).cpu())
    return torch.cat(out)


@torch.no_grad()
def row_scores(batch: EditBatch, images: torch.Tensor, judge: ToyJudge | None = None) -> dict[str, torch.Tensor]:
    """Per-image scores of ``images [N, 3, 32, 32]`` (in [0, 1]) for the N examples of ``batch``.

    Returns:
        ``[N]`` tensors: the judge's ``semantic``, ``consistency`` and ``overall``, ``bg_psnr`` (masked PSNR of the
        non-edit region against the source, capped at 100 dB), and booleans ``semantic_floor`` / ``consistency_cap``
        (the rows whose semantic or consistency score a clamp holds, as the judge's counters count them).
    """
    judge = judge or ToyJudge(ToyJudge.Config())
    r = judge.rows(
        RewardInputs(tasks=batch.tasks, images=images, source=batch.source, mask=batch.mask, target=batch.target)
    )
    keys = ("semantic", "consistency", "overall", "semantic_floor", "consistency_cap")
    return {"bg_psnr": r["psnr"], **{k: r[k] for k in keys}}


@torch.no_grad()
def score_rows(examples: Sequence[EditExample], images: dict[str, torch.Tensor]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean metrics per row and task type (plus ``"all"``).

    Args:
        examples: the N evaluated examples (with masks and targets).
        images: row name → ``[N, 3, 32, 32]`` images in [0, 1].

    Returns:
        ``{row: {task: {"foreground", "bg_psnr", "overall", "n"}}}``; ``bg_psnr`` averages per-image masked PSNR
        (capped at 100 dB) of the non-edit region against the source.
    """
    batch = EditBatch.collate(examples)
    tasks = [t for t in TASKS if t in batch.tasks] + ["all"]
    result: dict[str, dict[str, dict[str, float]]] = {}
    for row, imgs in images.items():
        scores = row_scores(batch, imgs)
        per_task = {}
        for task in tasks:
            sel = torch.tensor([task == "all" or t == task for t in batch.tasks])
            per_task[task] = {
                "foreground": float(scores["semantic"][sel].mean()),
                "bg_psnr": float(scores["bg_psnr"][sel].mean()),
                "overall": float(scores["overall"][sel].mean()),
                "n": int(sel.sum()),
            }
        result[row] = per_task
    return result


def baseline(
    backbone: ToyEditor, examples: Sequence[EditExample], steps: int = 8, seed: int = EVAL_SEED
) -> dict[str, dict[str, dict[str, float]]]:
    """The three rows of the baseline table: the source unchanged, the ground truth and ``backbone``'s samples."""
    batch = EditBatch.collate(examples)
    edited = sample(backbone, examples, steps=steps, seed=seed)
    return score_rows(examples, {ROWS[0]: batch.source, ROWS[1]: batch.target, ROWS[2]: edited})


def markdown_table(table: dict[str, dict[str, dict[str, float]]]) -> str:
    """The per-task table as GitHub markdown: one line per (row, task)."""
    lines = [
        "| row | task | n | foreground (judge semantic, 0–10) | background PSNR (dB) | judge overall (0–10) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row, per_task in table.items():
        for task, m in per_task.items():
            lines.append(
                f"| {row} | {task} | {m['n']} | {m['foreground']:.2f} | {m['bg_psnr']:.2f} | {m['overall']:.2f} |"
            )
    return "\n".join(lines)
