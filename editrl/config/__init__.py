"""Recipes: YAML loading with overrides, and the schema assembled from the registry."""

from editrl.config.loading import apply_overrides, load_recipe_dict
from editrl.config.schema import build_recipe_model, validate_recipe

__all__ = ["apply_overrides", "load_recipe_dict", "build_recipe_model", "validate_recipe"]
