"""Held-out evaluation: one deterministic path per example from fixed noise, scored by the metric rewards."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from editrl.engine.rollout import integrate
from editrl.engine.scoring import attention_layers, build_inputs, needed_inputs, reward_names
from editrl.interfaces import Backbone, EditBatch, EditExample, Reward, Solver


@dataclass
class EvalResult:
    """Mean of each metric, overall (``"all"``) and per task type."""

    label: str
    means: dict[str, dict[str, float]] = field(default_factory=dict)  # task → metric → mean
    counts: dict[str, int] = field(default_factory=dict)  # task → examples


@torch.no_grad()
def evaluate(
    label: str,
    backbone: Backbone,
    solver: Solver,
    metrics: list[Reward],
    examples: Sequence[EditExample],
    *,
    seed: int,
    batch_size: int,
    device: torch.device,
) -> EvalResult:
    """Sample each example once from its fixed noise (no mask, no perturbation) and score it.

    1. noise for all examples from one seeded generator, so results do not depend on batching;
    2. per batch: encode, integrate K solver steps, decode, score every metric;
    3. average per task type and overall.
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
    for start in range(0, len(examples), batch_size):
        batch = EditBatch.collate(examples[start : start + batch_size]).to(device)
        cond = backbone.encode_condition(batch)
        capture = backbone.capture_attention(layers) if layers else contextlib.nullcontext(None)
        with capture as maps:
            final, _ = integrate(backbone, solver, noise[start : start + len(batch)].to(device), cond, sigmas)
        images = backbone.decode(final) if "images" in needs else None
        token_mask = backbone.token_mask(batch.mask, shape) if layers else None
        inputs = build_inputs(needs, batch, 1, final[:, None], images, maps, token_mask, layers)
        for name, metric in zip(names, metrics):
            out = metric.score(inputs)
            columns = {name: out.values, **{f"{name}/{k}": v for k, v in out.details.items()}}
            for key, values in columns.items():
                for task, value in zip(batch.tasks, values.float().cpu().tolist()):
                    per_task[task][key].append(value)
                    per_task["all"][key].append(value)
    result = EvalResult(label)
    for task, cols in per_task.items():
        result.means[task] = {k: sum(v) / len(v) for k, v in cols.items()}
        result.counts[task] = len(next(iter(cols.values())))
    return result


def evaluate_base_and_trained(recipe, components, lora, device: torch.device, label: str) -> list[EvalResult]:
    """The recipe's held-out split through the base editor (LoRA disabled), then with the trained LoRA."""
    examples = list(components.dataset.split("eval"))[: recipe.eval.max_examples]

    def run(name: str) -> EvalResult:
        return evaluate(
            name, components.backbone, components.solver, components.eval_metrics, examples,
            seed=recipe.eval.seed, batch_size=recipe.eval.batch_size, device=device,
        )

    with lora.disabled():
        base = run("base")
    return [base, run(label)]
