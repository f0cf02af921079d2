"""Held-out evaluation, in two separate halves: producing edits and scoring them.

* :func:`sample_edits` is inference as the papers run it: one deterministic path per example from a given initial
  noise (no mask, no perturbation), through the recipe's solver. ``editrl edit`` and the evaluation both use it.
* :func:`score_edits` scores edited images from anywhere (``editrl score`` reads another editor's outputs), and
  :func:`evaluate_with_edits` scores the sampler's edits, with the latents and attention maps some metrics need.

Both average per task type and overall into an :class:`EvalResult`.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from editrl.cache import cached_condition
from editrl.engine.rollout import integrate
from editrl.engine.scoring import attention_layers, build_inputs, needed_inputs, reward_names
from editrl.errors import EditrlError
from editrl.interfaces import Backbone, EditBatch, EditExample, Reward, RewardInputs, Solver

if TYPE_CHECKING:
    from editrl.config.schema import RecipeBase
    from editrl.engine.build import Components
    from editrl.engine.lora import LoraController

#: The held-out samples a run saves (see :func:`save_samples`).
SAMPLES_FILE = "samples.safetensors"
#: The sample sheet written next to them.
SHEET_FILE = "samples.png"
#: What only the sampler has: a metric needing these cannot score images produced elsewhere.
SAMPLER_ONLY_INPUTS = frozenset({"latents", "attention"})


@dataclass
class EvalResult:
    """Mean of each metric, overall (``"all"``) and per task type."""

    label: str
    means: dict[str, dict[str, float]] = field(default_factory=dict)  # task → metric → mean
    counts: dict[str, int] = field(default_factory=dict)  # task → examples
    better: dict[str, str] = field(default_factory=dict)  # metric → "higher" or "lower" (which is the better)


# ----------------------------------------------------------------------------------------------------------------
# producing edits
@dataclass
class SampledBatch:
    """One batch of :func:`sample_edits`: the examples (on the device) and what the sampler produced for them."""

    batch: EditBatch
    final: torch.Tensor  # [B, C, h, w] final latents
    images: torch.Tensor | None  # [B, 3, H, W] decoded edits in [0, 1] (None unless decoding was asked for)
    attention: list[torch.Tensor] | None  # per (forward, layer): [B, n_img], when attention layers were captured
    latent_shape: tuple[int, int, int]  # (C, h, w)


def fixed_noise(backbone: Backbone, examples: Sequence[EditExample], seed: int) -> torch.Tensor:
    """``[E, C, h, w]``: one initial noise per example from one seeded generator, so results do not depend on
    batching (every example must have the first one's latent shape)."""
    shape = backbone.latent_shape(EditBatch.collate([examples[0]]))
    return torch.randn(len(examples), *shape, generator=torch.Generator().manual_seed(seed))  # [E, C, h, w]


@torch.no_grad()
def sample_edits(
    backbone: Backbone,
    solver: Solver,
    examples: Sequence[EditExample],
    noise: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    decode: bool = True,
    decode_first: int = 0,
    attention: int = 0,
) -> Iterator[SampledBatch]:
    """Edit ``examples`` with the single-path deterministic sampler from ``noise [E, C, h, w]``, batch by batch.

    1. the solver's noise levels for the examples' latent shape;
    2. per batch: the condition (the evaluation's only place that encodes one), integrate the K solver
       steps from the batch's noises (capturing the last ``attention`` layers' maps when asked), decode when asked
       (``decode``: every batch; ``decode_first``: the batches holding the first that many examples).
    """
    shape = backbone.latent_shape(EditBatch.collate([examples[0]]))  # step 1
    sigmas = backbone.sigmas(solver.steps, shape)  # [K + 1]
    for start in range(0, len(examples), batch_size):  # step 2
        batch = EditBatch.collate(examples[start : start + batch_size]).to(device)
        cond = cached_condition(backbone, batch)  # through the run's condition cache, if any
        capture = backbone.capture_attention(attention) if attention else contextlib.nullcontext(None)
        with capture as maps:
            final, _ = integrate(backbone, solver, noise[start : start + len(batch)].to(device), cond, sigmas)
        images = backbone.decode(final) if decode or start < decode_first else None  # [B, 3, H, W]
        yield SampledBatch(batch, final, images, maps, shape)  # final: [B, C, h, w]


# ----------------------------------------------------------------------------------------------------------------
# scoring edits
#: The row of an :class:`EvalResult` holding the unweighted mean over task types (its count: the task types).
TASK_MEAN = "mean_of_tasks"


class MetricMeans:
    """Accumulates metric scores per task type and overall, over the rows each metric could score."""

    def __init__(self, metrics: list[Reward]) -> None:
        self.metrics = metrics
        self.names = reward_names(metrics)
        self.needs = needed_inputs(metrics)
        self.per_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.counts: dict[str, int] = defaultdict(int)  # task → examples
        self.better: dict[str, str] = {}  # column → "higher" or "lower"

    def add(self, inputs: RewardInputs) -> None:
        """Score one batch (one row per example) with every metric; invalid rows are counted, not averaged."""
        for task in inputs.tasks:
            self.counts[task] += 1
            self.counts["all"] += 1
        for name, metric in zip(self.names, self.metrics):
            out = metric.score(inputs)
            valid = out.valid_mask.tolist()  # [B] rows the metric could score (a judge's failed request is not)
            columns = {name: out.values, **{f"{name}/{k}": v for k, v in out.details.items()}}
            for key, detail in [(name, None), *((f"{name}/{k}", k) for k in out.details)]:
                self.better[key] = "lower" if metric.lower_is_better(detail) else "higher"
            for key, values in columns.items():
                for task, value, ok in zip(inputs.tasks, values.float().cpu().tolist(), valid):
                    if ok:
                        self.per_task[task][key].append(value)
                        self.per_task["all"][key].append(value)
            if out.valid is not None:  # how many rows each mean leaves out
                self.better[f"{name}/invalid_fraction"] = "lower"
                for task, ok in zip(inputs.tasks, valid):
                    self.per_task[task][f"{name}/invalid_fraction"].append(float(not ok))
                    self.per_task["all"][f"{name}/invalid_fraction"].append(float(not ok))

    def result(self, label: str) -> EvalResult:
        """Means per task type and overall (NaN where a metric scored no row of a task). With two or more task types
        also :data:`TASK_MEAN`, the unweighted mean of the task means (NaN tasks left out): the headline number of
        benchmarks that average per task, such as CompBench's local editing, GEdit-Bench and ImgEdit-Bench."""
        result = EvalResult(label, better=dict(self.better))
        keys = dict.fromkeys(k for t in self.per_task.values() for k in t)  # every column, in first-seen order
        for task, n in self.counts.items():
            cols = self.per_task[task]
            result.means[task] = {k: (sum(cols[k]) / len(cols[k]) if cols.get(k) else math.nan) for k in keys}
            result.counts[task] = n
        tasks = [t for t in result.means if t != "all"]
        if len(tasks) >= 2:
            def task_mean(key: str) -> float:
                values = [result.means[t][key] for t in tasks if not math.isnan(result.means[t][key])]
                return sum(values) / len(values) if values else math.nan

            result.means[TASK_MEAN] = {k: task_mean(k) for k in keys}
            result.counts[TASK_MEAN] = len(tasks)  # task types averaged
        return result


def check_scorable(metrics: list[Reward]) -> None:
    """Refuse metrics that need what only the sampler has (final latents, attention maps), naming them."""
    bad = [f"{n} (needs {', '.join(sorted(m.requires & SAMPLER_ONLY_INPUTS))})"
           for n, m in zip(reward_names(metrics), metrics) if m.requires & SAMPLER_ONLY_INPUTS]
    if bad:
        raise EditrlError(
            f"eval.metrics: {', '.join(bad)} cannot score images produced elsewhere, only editrl's own sampler "
            "has latents and attention maps; list other eval.metrics (e.g. eval.metrics='[{type: masked_psnr}]')"
        )


def fit_to(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``image [3, H', W']`` resized to ``size`` (H, W) when it differs (bicubic, antialiased, clamped to [0, 1])."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    resized = F.interpolate(image[None].float(), size=size, mode="bicubic", antialias=True, align_corners=False)
    return resized[0].clamp(0, 1)  # [3, H, W]


@torch.no_grad()
def score_edits(
    label: str,
    metrics: list[Reward],
    examples: Sequence[EditExample],
    images: Sequence[torch.Tensor],
    *,
    batch_size: int,
    device: torch.device,
    resized: list[int] | None = None,
) -> EvalResult:
    """Score edited ``images`` with ``metrics``, per task type and overall.

    ``images[i]`` (``[3, H, W]`` in [0, 1]) is the edit of ``examples[i]``; a lazy sequence is read a batch at a
    time. An edit of another size than its source is resized to it (bicubic, antialiased, as CompBench's scorer
    resizes model outputs of any size); the indices of those are appended to ``resized`` when given.
    """
    if len(images) != len(examples):
        raise ValueError(f"score_edits: {len(images)} images for {len(examples)} examples")
    check_scorable(metrics)
    means = MetricMeans(metrics)
    for start in range(0, len(examples), batch_size):
        batch = EditBatch.collate(examples[start : start + batch_size]).to(device)
        size = tuple(batch.source.shape[-2:])
        edits = []
        for i in range(start, start + len(batch)):
            image = images[i].float()  # [3, H', W']
            if tuple(image.shape[-2:]) != size and resized is not None:
                resized.append(i)
            edits.append(fit_to(image, size))  # [3, H, W]
        edits = torch.stack(edits).to(device)  # [B, 3, H, W]
        # no final latents: check_scorable refused every metric that needs them
        means.add(build_inputs(means.needs, batch, 1, None, edits, None, None))
    return means.result(label)


def evaluate(label: str, backbone: Backbone, solver: Solver, metrics: list[Reward], examples: Sequence[EditExample],
             **settings) -> EvalResult:
    """Sample each example once from its fixed noise (no mask, no perturbation) and score it. ``settings``: the
    keyword-only ``seed``, ``batch_size`` and ``device`` of :func:`evaluate_with_edits`."""
    return evaluate_with_edits(label, backbone, solver, metrics, examples, **settings)[0]


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

    1. noise for all examples from one seeded generator (:func:`fixed_noise`);
    2. per batch of :func:`sample_edits`: score every metric; keep the first edits;
    3. average per task type and overall, over the rows each metric could score (NaN where it scored none).
    """
    means = MetricMeans(metrics)
    layers = attention_layers(metrics)
    noise = fixed_noise(backbone, examples, seed)  # step 1: [E, C, h, w]
    kept: list[torch.Tensor] = []
    done = 0
    sampled = sample_edits(backbone, solver, examples, noise, batch_size=batch_size, device=device,
                           decode="images" in means.needs, decode_first=keep, attention=layers)
    for s in sampled:  # step 2
        if done < keep:
            kept.append(s.images[: keep - done].float().cpu())  # [≤B, 3, H, W]
        token_mask = backbone.token_mask(s.batch.mask, s.latent_shape) if layers else None  # [B, n_img]
        means.add(build_inputs(means.needs, s.batch, 1, s.final[:, None], s.images, s.attention, token_mask, layers))
        done += len(s.batch)
    return means.result(label), (torch.cat(kept) if kept else None)  # step 3; [keep, 3, H, W]


# ----------------------------------------------------------------------------------------------------------------
# evaluating a recipe's editors
def _evaluate_editors(
    recipe, components, device: torch.device, editors: dict[str, tuple[str, Callable]], out_dir: Path | None
) -> list[EvalResult]:
    """Each of ``editors`` (sample name → (label, context manager factory that switches the editor on)) on the
    recipe's held-out split; with ``out_dir``, the first ``eval.samples`` examples' edits saved there."""
    examples = list(components.dataset.split("eval"))[: recipe.eval.max_examples]
    if not examples:
        raise EditrlError("dataset: the held-out (eval) split is empty; there is nothing to evaluate")
    keep = min(recipe.eval.samples, len(examples)) if out_dir is not None else 0
    results, edits = [], {}
    for key, (label, switch) in editors.items():
        with switch():
            result, edits[key] = evaluate_with_edits(
                label, components.backbone, components.solver, components.eval_metrics, examples,
                seed=recipe.eval.seed, batch_size=recipe.eval.batch_size, device=device, keep=keep,
            )
        results.append(result)
    if keep:
        save_edit_samples(out_dir, examples[:keep], edits)
    return results


def evaluate_base_and_trained(
    recipe, components, lora, device: torch.device, label: str, run_dir: Path | None = None
) -> list[EvalResult]:
    """The recipe's held-out split through the base editor (LoRA disabled), then with the trained LoRA.

    With ``run_dir``, the first ``eval.samples`` examples' source, base edit, trained edit and target are saved
    there (:func:`save_samples`)."""
    editors = {"base": ("base", lora.disabled), "trained": (label, contextlib.nullcontext)}
    return _evaluate_editors(recipe, components, device, editors, run_dir)


def evaluate_base(recipe, components, device: torch.device, out_dir: Path | None = None) -> EvalResult:
    """The recipe's held-out split through its base editor alone (no LoRA attached); with ``out_dir``, the first
    ``eval.samples`` examples' source, base edit and target are saved there."""
    return _evaluate_editors(recipe, components, device, {"base": ("base", contextlib.nullcontext)}, out_dir)[0]


@dataclass
class Editor:
    """An editor ready to sample: a recipe's base editor, or a run's with the LoRA of its latest checkpoint."""

    recipe: RecipeBase  # the validated recipe
    components: Components  # its components, the backbone loaded on ``device``
    device: torch.device
    label: str  # "base", or the step label of the run's checkpoint ("step 60")
    lora: LoraController | None = None  # holding the checkpoint's weights (a run only)
    run_dir: Path | None = None  # the run directory (a run only)
    checkpoint: Path | None = None  # the checkpoint loaded (a run only)


def recipe_device(recipe) -> torch.device:
    """The device ``train.device`` names (``auto``: CUDA when there is one); an error when CUDA is asked for but
    absent."""
    if recipe.train.device == "cuda" and not torch.cuda.is_available():
        raise EditrlError("train.device: cuda was asked for but no CUDA device is available")
    return torch.device("cuda" if recipe.train.device != "cpu" and torch.cuda.is_available() else "cpu")


def load_editor(
    path: Path, overrides: Sequence[str] = (), plugins: Sequence[str] = (), before_load: Callable | None = None,
    held_out: bool = False,
) -> Editor:
    """The editor ``path`` names: a run directory (holding ``recipe.yaml``) → its trained editor, or a recipe file
    (``.yaml``/``.yml``) → the recipe's base editor.

    1. tell a run directory from a recipe file (anything else is refused, saying what was expected);
    2. read and validate the recipe (``overrides`` applied), build its components, call ``before_load(components)``
       (a command's own checks of its input, before any weight loads), load the backbone — with ``held_out`` (a
       command that edits the held-out split) through the condition cache (:mod:`editrl.cache`), so a disk cache
       holding that split leaves the encoders unloaded;
    3. a run: attach LoRA and load the latest complete checkpoint's weights.
    """
    from editrl.engine.build import build_components, load_recipe
    from editrl.engine.checkpoint import latest_checkpoint, load_checkpoint, step_label
    from editrl.engine.lora import LoraController, lora_config

    if path.is_dir():  # step 1
        recipe_file = path / "recipe.yaml"
        if not recipe_file.is_file():
            raise EditrlError(f"{path}: a directory without recipe.yaml; expected a run directory written by "
                              "`editrl run` or a recipe file (.yaml)")
    elif path.is_file() and path.suffix in (".yaml", ".yml"):
        recipe_file = path
    else:
        what = "does not exist" if not path.exists() else "is not a .yaml recipe file"
        raise EditrlError(f"{path} {what}; expected a recipe file (.yaml) or a run directory written by `editrl run`")
    run_dir = path if path.is_dir() else None
    checkpoint = latest_checkpoint(run_dir / "checkpoints") if run_dir is not None else None
    if run_dir is not None and checkpoint is None:
        raise EditrlError(f"{run_dir}: the run has no complete checkpoint yet (checkpoints/latest)")
    cfg, registry = load_recipe(recipe_file, list(overrides), extra_plugins=list(plugins))  # step 2
    c = build_components(cfg, registry)
    if before_load is not None:
        before_load(c)
    device = recipe_device(cfg)
    if held_out:
        from editrl.cache import install_condition_cache

        install_condition_cache(c.backbone, device, lambda: {"eval": list(c.dataset.split("eval"))[: cfg.eval.max_examples]})
    else:
        c.backbone.load(device)
    editor = Editor(cfg, c, device, "base", run_dir=run_dir, checkpoint=checkpoint)
    if checkpoint is not None:  # step 3
        editor.lora = LoraController(c.backbone.denoiser, lora_config(cfg.lora, c.backbone))
        lora_state, state = load_checkpoint(checkpoint)
        editor.lora.load_state_dict(lora_state)
        editor.label = step_label(int(state["step"]))
    return editor


# ----------------------------------------------------------------------------------------------------------------
# samples
def save_samples(run_dir: Path, examples: Sequence[EditExample], base: torch.Tensor, trained: torch.Tensor) -> Path:
    """Write ``samples.safetensors`` (``source``, ``base``, ``trained`` and, when every example has one, ``target``,
    each ``[S, 3, H, W]``; ids, tasks and instructions as JSON metadata) and the sheet ``samples.png``."""
    return save_edit_samples(run_dir, examples, {"base": base, "trained": trained})


def save_edit_samples(directory: Path, examples: Sequence[EditExample], edits: dict[str, torch.Tensor]) -> Path:
    """:func:`save_samples` with any edit columns: ``edits`` maps a column name to ``[S, 3, H, W]`` edits; the sheet's
    columns are source, each edit column, and the target when every example has one."""
    from editrl.bench.sheet import save_sheet

    images = {"source": torch.stack([e.source.float().cpu() for e in examples]), **edits}  # [S, 3, H, W] each
    if all(e.target is not None for e in examples):
        images["target"] = torch.stack([e.target.float().cpu() for e in examples])  # [S, 3, H, W]
    meta = {"ids": [e.id for e in examples], "tasks": [e.task for e in examples],
            "instructions": [e.instruction for e in examples]}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SAMPLES_FILE
    save_file({k: v.contiguous() for k, v in images.items()}, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})
    save_sheet(directory / SHEET_FILE, images, [f"{t}: {i}" for t, i in zip(meta["tasks"], meta["instructions"])])
    return path


def load_samples(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    """``(images, metadata)`` of a ``samples.safetensors`` written by :func:`save_samples`."""
    with safe_open(str(path), framework="pt") as f:
        meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
        return {k: f.get_tensor(k) for k in f.keys()}, meta
