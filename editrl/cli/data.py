"""``editrl data``: a recipe's data, checked and summarised (``editrl data summary``); the same check runs in
``editrl validate`` and at the start of ``editrl run`` (:func:`check_recipe_data`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from editrl.cli import encode
from editrl.cli.output import console, print_table, user_errors, warn
from editrl.cli.run import OverridesArg, PluginOpt

data_app = typer.Typer(
    name="data", no_args_is_help=True, rich_markup_mode=None,
    help="A recipe's data: every example of the splits a run uses, checked and summarised.",
)
data_app.command("encode")(encode.encode)  # the condition cache (editrl.cache), filled ahead of a run


def check_recipe_data(recipe, dataset, backbone):
    """Check every split the recipe uses (:func:`editrl.data.check.check_data`); print the degenerate counts and
    warnings, and raise :class:`~editrl.data.check.DataCheckError` (exit 2) on anything unusable. Returns the report."""
    from editrl.data.check import check_data

    report = check_data(recipe, dataset, backbone)
    report.raise_if_unusable()
    for line in report.notices():
        warn(f"data: {line}")
    return report


def build_data_components(recipe, registry):
    """The recipe's dataset and backbone, built (nothing loads) for a check that needs no other component."""
    return (
        registry.get("dataset", recipe.dataset.type)(recipe.dataset),
        registry.get("backbone", recipe.backbone.type)(recipe.backbone),
    )


def checked_line(report) -> str:
    """``data checked: train 2000 examples, eval 100`` (kept counts; dropped ones said)."""
    parts = [f"{s.name} {s.kept}" + (f" ({s.dropped} dropped)" if s.dropped else "") for s in report.splits]
    return f"data checked ({report.dataset}): " + ", ".join(parts) + " examples"


@data_app.command("summary")
def summary(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    overrides: OverridesArg = None,
    plugin: PluginOpt = None,
) -> None:
    """Check the recipe's data and print examples per split and task, image sizes, the mask-area histogram and what
    was dropped; exit 2 listing every unusable example (file and manifest line).

    Example:

      editrl data summary recipes/rc_grpo.yaml dataset.root=/data/edits
    """
    from editrl.data.check import DataCheckError, check_data
    from editrl.data.summary import summary_tables
    from editrl.engine.build import load_recipe

    with user_errors():
        cfg, registry = load_recipe(recipe, overrides or [], extra_plugins=plugin or [])
        dataset, backbone = build_data_components(cfg, registry)
        report = check_data(cfg, dataset, backbone)
        for table in summary_tables(report):
            print_table(table)
        for line in report.notices():
            warn(f"data: {line}")
        if report.problems:
            raise DataCheckError(report.problems, limit=None)
        console.print(checked_line(report), highlight=False)
