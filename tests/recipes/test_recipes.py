"""Every shipped recipe validates against the registered components."""

from __future__ import annotations

from pathlib import Path

import pytest

from editrl.engine.build import load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").rglob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(p.parents[1])) for p in RECIPES])
def test_recipe_validates(path):
    recipe, _ = load_recipe(path)
    assert recipe.train.steps >= 1


def test_recipes_have_a_header_with_the_run_command():
    for path in RECIPES:
        head = path.read_text().split("\n\n")[0]
        assert head.startswith("#") and "editrl run" in head, path
