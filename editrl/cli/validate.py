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
) -> None:
    """Validate a recipe (and overrides) against every registered component; exit 2 listing each problem.

    Example:

      editrl validate recipes/toy/neighbor_grpo.yaml train.steps=5
    """
    from editrl.engine.build import load_recipe

    with user_errors():
        load_recipe(recipe, overrides or [], extra_plugins=plugin or [])
    console.print(f"[green]{recipe} is a valid recipe[/]")
