"""Held-out evaluation: one deterministic path per example from fixed noise, scored by the metric rewards."""

from __future__ import annotations

import contextlib
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from editrl.engine.rollout import integrate
from editrl.engine.scoring import attention_layers, build_inputs, needed_inputs, reward_names
from editrl.interfaces import Backbone, EditBatch, EditExample, Reward, Solver

#: The held-out samples a run saves (see :func:`save_samples`).
SAMPLES_FILE = "samples.safetensors"


@dataclass
class EvalResult:
    """Mean of each metric, overall (``"all"``) and per task type."""

    label: str
    means: dict[str, dict[str, float]] = field(default_factory=dict)  # task → metric → mean
    counts: dict[str, int] = field(default_factory=dict)  # task → examples


def evaluate(label: str, backbone: Backbone, solver: Solver, metrics: list[Reward], examples: Sequence[EditExample],
             **settings) -> EvalResult:
    """Sample each example once from its fixed noise (no mask, no perturbation) and score it. ``settings``: the
    keyword-only ``seed``, ``batch_size`` and ``device`` of :func:`evaluate_with_edits`."""
    return evaluate_with_edits(label, backbone, solver, metrics, examples, **settings)[0]


@torch.no_grad()
def evaluate_with_edits(
    label: str,
    backbone: Backbone,
    solver: Solver,
    metrics: list[Reward],
    examples: Sequence[EditExample],
    *,
    seed: int,
    batch_size: int,
    device: torch.device,
    keep: int = 0,
) -> tuple[EvalResult, torch.Tensor | None]:
    """:func:`evaluate`, also returning the decoded edits of the first ``keep`` examples (``[keep, 3, H, W]``).

    1. noise for all examples from one seeded generator, so results do not depend on batching;
    2. per batch: encode, integrate K solver steps, decode, score every metric; keep the first edits;
    3. average per task type and overall, over the rows each metric could score (NaN where it scored none).
    """
    needs = needed_inputs(metrics)
    names = reward_names(metrics)
    layers = attention_layers(metrics)
    first = EditBatch.collate([examples[0]])
    shape = backbone.latent_shape(first)
    sigmas = backbone.sigmas(solver.steps, shape)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(examples), *shape, generator=gen)  # [E, C, h, w]
    per_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    counts: dict[str, int] = defaultdict(int)  # task → examples
    kept: list[torch.Tensor] = []
    for start in range(0, len(examples), batch_size):
        batch = EditBatch.collate(examples[start : start + batch_size]).to(device)
        cond = backbone.encode_condition(batch)
        capture = backbone.capture_attention(layers) if layers else contextlib.nullcontext(None)
        with capture as maps:
            final, _ = integrate(backbone, solver, noise[start : start + len(batch)].to(device), cond, sigmas)
        images = backbone.decode(final) if "images" in needs else None  # [B, 3, H, W]
        if start < keep:
            edits = images if images is not None else backbone.decode(final)  # [B, 3, H, W]
            kept.append(edits[: keep - start].float().cpu())
        token_mask = backbone.token_mask(batch.mask, shape) if layers else None
        inputs = build_inputs(needs, batch, 1, final[:, None], images, maps, token_mask, layers)
        for task in batch.tasks:
            counts[task] += 1
            counts["all"] += 1
        for name, metric in zip(names, metrics):
            out = metric.score(inputs)
            valid = out.valid_mask.tolist()  # [B] rows the metric could score (a judge's failed request is not)
            columns = {name: out.values, **{f"{name}/{k}": v for k, v in out.details.items()}}
            for key, values in columns.items():
                for task, value, ok in zip(batch.tasks, values.float().cpu().tolist(), valid):
                    if ok:
                        per_task[task][key].append(value)
                        per_task["all"][key].append(value)
            if out.valid is not None:  # how many rows each mean leaves out
                for task, ok in zip(batch.tasks, valid):
                    per_task[task][f"{name}/invalid_fraction"].append(float(not ok))
                    per_task["all"][f"{name}/invalid_fraction"].append(float(not ok))
    result = EvalResult(label)
    for task, n in counts.items():
        cols = per_task[task]
        keys = dict.fromkeys(k for t in per_task.values() for k in t)  # every column, in first-seen order
        result.means[task] = {k: (sum(cols[k]) / len(cols[k]) if cols.get(k) else math.nan) for k in keys}
        result.counts[task] = n
    return result, (torch.cat(kept) if kept else None)  # [keep, 3, H, W]


def evaluate_base_and_trained(
    recipe, components, lora, device: torch.device, label: str, run_dir: Path | None = None
) -> list[EvalResult]:
    """The recipe's held-out split through the base editor (LoRA disabled), then with the trained LoRA.

    With ``run_dir``, the first ``eval.samples`` examples' source, base edit, trained edit and target are saved
    there (:func:`save_samples`)."""
    examples = list(components.dataset.split("eval"))[: recipe.eval.max_examples]
    keep = min(recipe.eval.samples, len(examples)) if run_dir is not None else 0

    def run(name: str) -> tuple[EvalResult, torch.Tensor | None]:
        return evaluate_with_edits(
            name, components.backbone, components.solver, components.eval_metrics, examples,
            seed=recipe.eval.seed, batch_size=recipe.eval.batch_size, device=device, keep=keep,
        )

    with lora.disabled():
        base, base_edits = run("base")
    trained, trained_edits = run(label)
    if keep:
        save_samples(run_dir, examples[:keep], base_edits, trained_edits)
    return [base, trained]


def save_samples(run_dir: Path, examples: Sequence[EditExample], base: torch.Tensor, trained: torch.Tensor) -> Path:
    """Write ``samples.safetensors`` (``source``, ``base``, ``trained`` and, when every example has one, ``target``,
    each ``[S, 3, H, W]``; ids, tasks and instructions as JSON metadata) and the sheet ``samples.png``."""
    from editrl.bench.sheet import save_sheet

    images = {"source": torch.stack([e.source.float().cpu() for e in examples]), "base": base, "trained": trained}
    if all(e.target is not None for e in examples):
        images["target"] = torch.stack([e.target.float().cpu() for e in examples])  # [S, 3, H, W]
    meta = {"ids": [e.id for e in examples], "tasks": [e.task for e in examples],
            "instructions": [e.instruction for e in examples]}
    path = run_dir / SAMPLES_FILE
    save_file({k: v.contiguous() for k, v in images.items()}, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})
    save_sheet(run_dir / "samples.png", images, [f"{t}: {i}" for t, i in zip(meta["tasks"], meta["instructions"])])
    return path


def load_samples(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """``(images, metadata)`` of a ``samples.safetensors`` written by :func:`save_samples`."""
    with safe_open(str(path), framework="pt") as f:
        meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
        return {k: f.get_tensor(k) for k in f.keys()}, meta
