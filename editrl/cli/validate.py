"""``editrl validate``: check a recipe without running it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import console, user_errors
from editrl.cli.run import OverridesArg, PluginOpt


def validate(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    overrides: OverridesArg = None,
    plugin: PluginOpt = None,
    no_data: Annotated[
        bool, typer.Option("--no-data", help="Check the recipe only, not the examples of its dataset.")
    ] = False,
) -> None:
    """Validate a recipe (and overrides) against every registered component, and check every example of the data
    it uses (as `editrl run` does before it trains); exit 2 listing each problem.

    Example:

      editrl validate recipes/toy/neighbor_grpo.yaml train.steps=5

      editrl validate recipes/rc_grpo.yaml --no-data     # the recipe alone, before the data is in place
    """
    from editrl.cli.data import build_data_components, check_recipe_data, checked_line
    from editrl.engine.build import load_recipe

    with user_errors():
        cfg, registry = load_recipe(recipe, overrides or [], extra_plugins=plugin or [])
        report = None if no_data else check_recipe_data(cfg, *build_data_components(cfg, registry))
    if report is not None:
        console.print(checked_line(report), highlight=False)
    console.print(f"[green]{recipe} is a valid recipe[/]")
