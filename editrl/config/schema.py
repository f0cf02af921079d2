"""The recipe schema, assembled from whatever is registered, so a third-party component validates like a builtin."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, ValidationError, create_model, model_validator

from editrl.component import Component, ComponentConfig
from editrl.errors import RecipeError
from editrl.registry import Registry
from editrl.requirements import unmet_requirements

#: Recipe sections holding one component, and sections holding a list of components, with their kinds.
SINGLE_SECTIONS = {
    "backbone": "backbone", "dataset": "dataset", "exploration": "exploration", "solver": "solver",
    "policy": "policy", "optimizer": "optimizer",
}
LIST_SECTIONS = {"rewards": "reward", "regularizers": "regularizer"}


class LoraSettings(ComponentConfig):
    rank: int = Field(8, ge=1, le=1024)
    """LoRA rank r."""
    alpha: float = Field(8.0, gt=0)
    """LoRA alpha (the update is scaled by alpha / rank)."""
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    """Dropout on the LoRA branch."""
    target_modules: list[str] | None = None
    """Module names LoRA attaches to; null = the backbone's default (its attention projections)."""


class TrainSettings(ComponentConfig):
    steps: int = Field(100, ge=1)
    """Optimisation steps of the run (a resumed run may raise this)."""
    batch_size: int = Field(4, ge=1)
    """Groups (edit examples) per step and process; each group has the exploration's group_size candidates."""
    lr: float = Field(1e-4, gt=0, le=1.0)
    """AdamW learning rate."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    eps: float = Field(1e-8, gt=0, le=1.0)
    """AdamW epsilon, added to the root of the second moment. Well above the gradients' size it damps the
    parameters whose gradients are small (the update tends to SGD with learning rate ``lr / eps``)."""
    grad_clip: float | None = Field(1.0, gt=0)
    """Clip the gradient norm to this value; null disables clipping."""
    grad_accum: int = Field(1, ge=1)
    """Steps whose gradients accumulate before one optimiser update (accelerate's gradient accumulation)."""
    rollout_batch_size: int | None = Field(None, ge=1)
    """Rows (candidates) integrated together in the rollout; null = all N·G rows of the step at once, or one group
    (group_size rows) at a time when a reward is a served judge. Smaller
    micro-batches bound the rollout's memory, and a served judge (a reward that ``overlaps``) receives each group's
    rows as soon as the micro-batch completing it is decoded, so its requests are in flight while the later rows
    integrate. Results do not depend on it beyond float rounding of batched kernels."""
    updates_per_rollout: int = Field(1, ge=1, le=64)
    """AdamW updates made from each rollout (PPO-style epochs over the same samples, new anchors each time). From
    the second update on θ ≠ θ_old, so the surrogate ratio leaves 1 and the clip acts; with 1 it stays exactly 1.
    Needs grad_accum = 1."""
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    """accelerate mixed precision for the trained passes."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to run: auto = CUDA when available, else CPU."""
    save_every: int = Field(0, ge=0)
    """Checkpoint every this many steps (0 = only at the end)."""
    keep_checkpoints: int = Field(2, ge=1)
    """How many of the latest checkpoints to keep on disk."""
    log_every: int = Field(1, ge=1)
    """Write a metrics line every this many steps."""
    log_with: list[Literal["tensorboard", "wandb"]] = Field(default_factory=list, max_length=2)
    """Also send the metrics through these accelerate trackers (rank 0, logs under the run's ``trackers/``, the
    resolved recipe as the run's config); ``wandb`` needs ``pip install 'editrl[wandb]'``."""

    @model_validator(mode="after")
    def _one_way_to_reuse_a_rollout(self) -> TrainSettings:
        if self.updates_per_rollout > 1 and self.grad_accum > 1:
            raise ValueError("updates_per_rollout > 1 needs grad_accum = 1 (each update would be a micro-step)")
        return self


class EvalSettings(ComponentConfig):
    at_end: bool = True
    """Evaluate the held-out split at the end of the run (the base editor and the trained one)."""
    max_examples: int | None = Field(None, ge=1)
    """Evaluate only the first this many held-out examples (null = all)."""
    batch_size: int = Field(32, ge=1)
    """Examples per evaluation batch."""
    seed: int = 1234
    """Seed of the fixed evaluation noise (one initial noise per example, independent of batching)."""
    samples: int = Field(4, ge=0, le=64)
    """Save the first this many held-out examples' source, base edit, trained edit and target in the run directory
    (samples.safetensors and the sheet samples.png); 0 saves none."""


class RecipeBase(BaseModel):
    """Top-level fields every recipe has; component sections are added from the registry."""

    model_config = {"extra": "forbid", "use_attribute_docstrings": True}

    seed: int = 0
    """Seed of everything random in the run."""
    output_dir: str = "runs/run"
    """The run directory: resolved recipe, metrics.jsonl, checkpoints, evaluation."""
    resume: bool = False
    """Continue the run in output_dir from its latest checkpoint."""
    plugins: list[str] = []
    """Extra local plugin modules to register (importable from the current directory)."""
    lora: LoraSettings = LoraSettings()
    train: TrainSettings = TrainSettings()
    eval: EvalSettings = EvalSettings()


def _spec_model(cls: type[Component]) -> type[BaseModel]:
    """``cls.Config`` plus a ``type: Literal[cls.name]`` tag."""
    return create_model(
        f"{cls.__name__}Spec", __base__=cls.Config, __doc__=cls.summary() or None,
        type=(Literal[cls.name], Field(description=f"{cls.kind} component name")),  # type: ignore[valid-type]
    )


def _union(registry: Registry, kind: str) -> Any:
    specs = tuple(_spec_model(c) for c in registry.components(kind))
    if not specs:
        return None
    return Annotated[Union[specs], Field(discriminator="type")]  # noqa: UP007


def build_recipe_model(registry: Registry) -> type[RecipeBase]:
    """The pydantic model of a recipe for the components in ``registry``."""
    fields: dict[str, Any] = {}
    for section, kind in SINGLE_SECTIONS.items():
        union = _union(registry, kind)
        if section == "policy":
            fields[section] = (union | None if union is not None else None, None)
        else:
            fields[section] = (union if union is not None else Any, ...)
    for section, kind in LIST_SECTIONS.items():
        union = _union(registry, kind)
        item = union if union is not None else dict
        fields[section] = (list[item], Field(default_factory=list, min_length=1 if kind == "reward" else 0))
    reward_union = _union(registry, "reward")
    eval_model = create_model(
        "EvalSettings", __base__=EvalSettings,
        metrics=(
            list[reward_union] if reward_union is not None else list[dict],
            Field(default_factory=list, description="Rewards reported by evaluation (empty: the training rewards)."),
        ),
    )
    fields["eval"] = (eval_model, Field(default_factory=eval_model))
    return create_model("Recipe", __base__=RecipeBase, **fields)


_MODELS: dict[tuple[type, ...], type[RecipeBase]] = {}


def _cached_model(registry: Registry) -> type[RecipeBase]:
    """The recipe model of a registry, built once per set of registered classes (every CLI call builds a fresh
    registry from the same plugins; building the model costs seconds)."""
    key = tuple(registry)  # the classes, kind by kind, name-sorted
    if key not in _MODELS:
        _MODELS[key] = build_recipe_model(registry)
    return _MODELS[key]


def _location(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    # Drop the discriminator tag pydantic inserts after a component section ("rewards.0.toy_judge.weight").
    if parts and parts[0] in SINGLE_SECTIONS and len(parts) > 1:
        del parts[1]
    elif parts and parts[0] in LIST_SECTIONS and len(parts) > 2:
        del parts[2]
    elif parts[:2] == ["eval", "metrics"] and len(parts) > 3:
        del parts[3]
    return ".".join(str(p) for p in parts) or "(top level)"


def _message(err: dict[str, Any], registry: Registry) -> str:
    loc = err["loc"]
    section = loc[0] if loc else None
    kind = SINGLE_SECTIONS.get(section) or LIST_SECTIONS.get(section) or ("reward" if loc[:2] == ("eval", "metrics") else None)
    if err["type"] == "union_tag_not_found" and kind:
        return f"missing `type:`; expected one of: {', '.join(registry.names(kind))}"
    if err["type"] == "union_tag_invalid" and kind:
        tag = err.get("ctx", {}).get("tag")
        return f"unknown {kind} type {tag!r}; expected one of: {', '.join(registry.names(kind))}"
    if err["type"] == "extra_forbidden":
        return _unknown_key(loc, registry)
    return err["msg"]


def section_fields(loc: tuple[Any, ...], registry: Registry) -> list[str]:
    """The field names of the mapping at ``loc`` (a pydantic location, discriminator tags included)."""
    parts = list(loc)
    if not parts:
        return list(_cached_model(registry).model_fields)
    tag_at = {**{s: 1 for s in SINGLE_SECTIONS}, **{s: 2 for s in LIST_SECTIONS}}.get(parts[0])
    kind = SINGLE_SECTIONS.get(parts[0]) or LIST_SECTIONS.get(parts[0])
    if parts[:2] == ["eval", "metrics"]:
        tag_at, kind = 3, "reward"
    if tag_at is not None and len(parts) == tag_at + 1 and parts[tag_at] in registry.names(kind):
        return ["type", *registry.get(kind, parts[tag_at]).Config.model_fields]
    model = _cached_model(registry)
    for part in parts:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _unknown_key(loc: tuple[Any, ...], registry: Registry) -> str:
    """``unknown key``, the closest field names of the section ("did you mean") and where to list them."""
    fields = section_fields(loc[:-1], registry)
    where = _location(loc[:-1])
    prefix = "" if where == "(top level)" else f"{where}."
    close = difflib.get_close_matches(str(loc[-1]), fields, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(f'`{prefix}{c}`' for c in close)}? " if close else ""
    section = str(loc[0]) if len(loc) > 1 else "recipe"
    return f"unknown key ({hint}`editrl ls {section}` lists the fields)"


def validate_recipe(data: dict[str, Any], registry: Registry, source: str = "recipe") -> RecipeBase:
    """Validate a recipe dict against the registered components and their declared needs.

    Raises:
        RecipeError: with one ``location: message`` line per problem, all problems at once.
    """
    model = _cached_model(registry)
    try:
        recipe = model.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_location(e['loc'])}: {_message(e, registry)}" for e in exc.errors()]
        raise RecipeError(source, problems) from None
    problems = unmet_requirements(recipe, registry)
    if problems:
        raise RecipeError(source, problems)
    return recipe
