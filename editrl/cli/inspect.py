"""``editrl ls``, ``editrl plugins``, ``editrl schema``: what is installed and how recipes look."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from editrl.cli.output import console, user_errors
from editrl.cli.run import PluginOpt


def _registry(plugin: list[str] | None):
    from editrl.plugin_manager import build_registry, get_plugin_manager

    pm = get_plugin_manager(extra_modules=plugin or [])
    return pm, build_registry(pm)


_SYMBOLS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "len ≥", "max_length": "len ≤"}


def _bound(meta) -> str:
    for attr, symbol in _SYMBOLS.items():
        if getattr(meta, attr, None) is not None:
            return f"{symbol} {getattr(meta, attr)}"
    return str(meta)


def _fields(cls) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, info in cls.Config.model_fields.items():
        default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
        bounds = ", ".join(_bound(m) for m in info.metadata)
        rows.append((name, default, bounds, " ".join((info.description or "").split())))  # the whole help, one paragraph
    return rows


def ls(
    kind: Annotated[str | None, typer.Argument(help="Only this kind (backbone, reward, ...).")] = None,
    plugin: PluginOpt = None,
) -> None:
    """List every registered component by kind, with its config fields, defaults, bounds and help."""
    from editrl.registry import KINDS

    with user_errors():
        pm, registry = _registry(plugin)
        if kind is not None and kind not in KINDS:
            from editrl.errors import EditrlError

            raise EditrlError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    from editrl.plugin_manager import plugin_of

    for k in [kind] if kind else KINDS:
        for cls in registry.components(k):
            table = Table(title=f"[bold]{k}[/] {cls.name}  [dim]({plugin_of(pm, cls)})[/]", title_justify="left")
            for col in ("field", "default", "bounds", "help"):
                table.add_column(col)
            for row in _fields(cls):
                table.add_row(*row)
            if cls.summary():
                table.caption = cls.summary()
            console.print(table)


def plugins(plugin: PluginOpt = None) -> None:
    """List every plugin: its distribution and version, and the components it registered."""
    from editrl.plugin_manager import plugin_of

    with user_errors():
        pm, registry = _registry(plugin)
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    table = Table(title="editrl plugins")
    for col in ("plugin", "distribution", "version", "components"):
        table.add_column(col)
    for name, module in sorted(pm.list_name_plugin(), key=lambda x: x[0]):
        dist = dists.get(id(module))
        comps = [f"{c.kind}:{c.name}" for c in registry if plugin_of(pm, c) == name]
        table.add_row(
            name, dist.project_name if dist else "(local module)", dist.version if dist else "-", ", ".join(comps) or "-"
        )
    console.print(table)


def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the schema here instead of stdout.")] = None,
    plugin: PluginOpt = None,
) -> None:
    """Print the JSON Schema of recipes (for editor auto-complete), built from the registered components.

    Example: editrl schema -o recipe.schema.json, then add
    `# yaml-language-server: $schema=recipe.schema.json` at the top of a recipe.
    """
    from editrl.config import build_recipe_model

    with user_errors():
        _, registry = _registry(plugin)
    text = json.dumps(build_recipe_model(registry).model_json_schema(), indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n")
        console.print(f"wrote {output}")
