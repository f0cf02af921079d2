"""The bench file: variants (a recipe plus overrides) × seeds, the baseline, the metrics to report.

A bench file is YAML validated by :class:`BenchSpec` (unknown keys are errors, like in recipes). Problems are
reported all at once as ``location (line N): message`` bullets naming the bench file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, StringConstraints, ValidationError, field_validator

from editrl.component import ComponentConfig
from editrl.errors import RecipeError

#: Names used as directory names (variants, the bench itself).
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
VariantName = Annotated[str, StringConstraints(pattern=SAFE_NAME, max_length=100)]
#: Recipe keys the bench sets for every run; overrides may not set them.
BENCH_KEYS = ("seed", "output_dir", "resume")


class VariantSpec(ComponentConfig):
    """One row of the grid: a recipe and the overrides that make this variant."""

    recipe: Path
    """Recipe YAML file; a relative path is read from the current directory (like `editrl run`)."""
    overrides: list[str] = []
    """key=value overrides of this variant (after the bench's `overrides`, before the command line's)."""
    label: str | None = Field(None, max_length=200)
    """Name shown in the report (default: the variant's key)."""


class BenchSpec(ComponentConfig):
    """A benchmark: every variant trained once per seed, compared on held-out metrics."""

    name: str = Field(pattern=SAFE_NAME, max_length=100)
    """Name of the benchmark; the default output directory is runs/bench/<name>."""
    description: str = ""
    """Free text put at the top of the report."""
    seeds: list[int] = Field(min_length=1, max_length=1000)
    """Seeds; every variant runs once per seed (recipe `seed=`), and differences are paired by seed."""
    variants: dict[VariantName, VariantSpec] = Field(min_length=1)
    """The variants by name (letters, digits, `_`, `.`, `-`; used as directory names)."""
    baseline: str
    """Variant the others are compared against (paired differences, same seed)."""
    metrics: list[str] = Field(min_length=1)
    """eval.json metric keys to report, e.g. toy_judge, toy_judge/semantic, masked_psnr/psnr_db."""
    overrides: list[str] = []
    """key=value overrides applied to every run (before each variant's own)."""
    workers: int | None = Field(None, ge=1, le=256)
    """Runs at a time (null: one per CPU core); torch threads are split between them. On a GPU every run shares
    the device: set what fits in its memory (1 for the FLUX recipes)."""
    samples: int = Field(4, ge=0, le=32)
    """Held-out examples in the report's sample sheet (the first ones; each run saves its recipe's eval.samples)."""
    output_dir: str | None = None
    """Where runs and the report go (null: runs/bench/<name>); `editrl bench -o DIR` wins over it."""

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ValueError(f"seeds must be distinct; repeated: {', '.join(map(str, repeated))}")
        return seeds

    @field_validator("baseline")
    @classmethod
    def _baseline_is_a_variant(cls, baseline: str, info) -> str:
        variants = info.data.get("variants")
        if variants is not None and baseline not in variants:
            raise ValueError(f"{baseline!r} is not a variant; expected one of: {', '.join(variants)}")
        return baseline

    @field_validator("overrides")
    @classmethod
    def _no_bench_keys(cls, overrides: list[str]) -> list[str]:
        check_overrides(overrides)
        return overrides


def check_overrides(overrides: list[str]) -> None:
    """Overrides may not set what the bench sets itself (the seed, the run directory, resuming)."""
    for override in overrides:
        key = override.lstrip("~").split("=", 1)[0].strip()
        if key in BENCH_KEYS:
            raise ValueError(f"{override!r}: {key} is set by the bench for every run (seeds: and the run directory)")


def _line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node on the path ``loc`` (pydantic's error location)."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if hit is None:
                return line
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_bench(path: Path) -> BenchSpec:
    """Read and validate a bench file.

    Raises:
        RecipeError: source = the bench file, one ``location (line N): message`` per problem.
    """
    if not path.is_file():
        raise RecipeError(str(path), [f"bench file not found: {path}"])
    text = path.read_text()
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise RecipeError(str(path), [f"malformed YAML: {where}{getattr(exc, 'problem', None) or exc}"]) from None
    if not isinstance(data, dict):
        raise RecipeError(str(path), ["the top level must be a mapping (name, seeds, baseline, variants, metrics)"])
    try:
        spec = BenchSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p != "[key]")
            where = ".".join(map(str, loc)) or "(top level)"
            line = _line(root, loc)
            message = "unknown key (not a field of a bench file; see `editrl schema --bench`)" if (
                err["type"] == "extra_forbidden") else err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}{f' (line {line})' if line else ''}: {message}")
        raise RecipeError(str(path), problems) from None
    problems = []
    for name, variant in spec.variants.items():
        try:
            check_overrides(variant.overrides)
        except ValueError as exc:
            problems.append(f"variants.{name}.overrides (line {_line(root, ('variants', name, 'overrides'))}): {exc}")
    if problems:
        raise RecipeError(str(path), problems)
    return spec
