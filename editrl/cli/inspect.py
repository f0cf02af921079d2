"""``editrl ls``, ``editrl plugins``, ``editrl schema``: what is installed and how recipes look."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from editrl.cli.output import console, name_column, print_table, user_errors
from editrl.cli.run import PluginOpt

#: Sections of a recipe that are settings rather than components (``editrl ls train``); ``recipe`` = top level.
SETTINGS = ("recipe", "lora", "train", "eval")

_SYMBOLS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "len ≥", "max_length": "len ≤"}

#: What a component class declares about its needs and what it offers: (class attribute, label in `editrl ls`).
_DECLARED = (("requires", "requires"), ("provides", "provides"), ("capabilities", "capabilities"))
#: Declared yes/no needs of a component class: (class attribute, what it means when true).
_DECLARED_FLAGS = (("needs_policy", "needs a surrogate policy"), ("needs_states", "keeps the rollout's states"))


def _registry(plugin: list[str] | None):
    from editrl.plugin_manager import build_registry, get_plugin_manager

    pm = get_plugin_manager(extra_modules=plugin or [])
    return pm, build_registry(pm)


def _bound(meta) -> str:
    for attr, symbol in _SYMBOLS.items():
        if getattr(meta, attr, None) is not None:
            return f"{symbol} {getattr(meta, attr)}"
    return str(meta)


def _fields(model) -> list[tuple[str, str, str, str]]:
    """(name, default, bounds, help) of each field of a pydantic model; the help is the whole docstring."""
    rows = []
    for name, info in model.model_fields.items():
        default = "required" if info.is_required() else repr(info.get_default(call_default_factory=True))
        bounds = ", ".join(_bound(m) for m in info.metadata)
        rows.append((name, default, bounds, " ".join((info.description or "").split())))  # one paragraph
    return rows


def declared(cls) -> str:
    """What a component requires and provides (inputs, chunk outputs, capabilities), as one line; '' if nothing."""
    parts = [
        f"{label}: {', '.join(sorted(getattr(cls, attr)))}"
        for attr, label in _DECLARED
        if getattr(cls, attr, None)
    ]
    parts += [text for attr, text in _DECLARED_FLAGS if getattr(cls, attr, False)]
    return " · ".join(parts)


def _field_table(title: str, rows: list[tuple[str, str, str, str]], caption: str = "") -> Table:
    table = Table(title=title, title_justify="left", caption=caption or None, caption_justify="left")
    name_column(table, "field")
    table.add_column("default")
    table.add_column("bounds", no_wrap=True)
    table.add_column("help", max_width=72)
    for row in rows:
        table.add_row(*row)
    return table


def _settings_table(section: str, registry) -> Table:
    """The top-level fields of a recipe (``recipe``), or the fields of the ``lora``/``train``/``eval`` section."""
    from editrl.config import build_recipe_model
    from editrl.config.schema import LIST_SECTIONS, SINGLE_SECTIONS

    model = build_recipe_model(registry)
    if section != "recipe":
        fields = _fields(model.model_fields[section].annotation)
        return _field_table(f"[bold]{section}[/]  [dim](recipe section)[/]", fields)
    rows = []
    for name, default, bounds, text in _fields(model):
        kind = SINGLE_SECTIONS.get(name) or LIST_SECTIONS.get(name)
        if kind is not None:
            many = f"a list of {kind} components" if name in LIST_SECTIONS else f"one {kind} component"
            text = f"{many} ({', '.join(registry.names(kind))}); `editrl ls {name}`"
            default = default if default != "None" else "null"
        elif name in SETTINGS:
            default, text = "", f"settings; `editrl ls {name}`"
        rows.append((name, default, bounds, text))
    return _field_table("[bold]recipe[/]  [dim](top-level fields and sections)[/]", rows)


def _topic(name: str | None) -> list[str]:
    """The topics ``editrl ls NAME`` shows: a settings section, or a kind (plural section names accepted)."""
    from editrl.config.schema import LIST_SECTIONS
    from editrl.errors import EditrlError
    from editrl.registry import KINDS

    if name is None:
        return [*SETTINGS, *KINDS]
    name = LIST_SECTIONS.get(name, name)
    if name in SETTINGS or name in KINDS:
        return [name]
    valid = [*SETTINGS, *KINDS, *LIST_SECTIONS]
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise EditrlError(
        f"kind: {name!r} is not a recipe section or component kind{hint}; expected one of: {', '.join(valid)}"
    )


def ls(
    kind: Annotated[
        str | None, typer.Argument(help="Only this section or kind: recipe, lora, train, eval, backbone, rewards, ...")
    ] = None,
    plugin: PluginOpt = None,
) -> None:
    """List the recipe's sections and every registered component, with config fields, defaults, bounds and help.

    Examples: editrl ls train; editrl ls rewards
    """
    from editrl.plugin_manager import plugin_of

    with user_errors():
        topics = _topic(kind)
        pm, registry = _registry(plugin)
    for topic in topics:
        if topic in SETTINGS:
            print_table(_settings_table(topic, registry))
            continue
        for cls in registry.components(topic):
            caption = "\n".join(x for x in (cls.summary(), declared(cls)) if x)
            title = f"[bold]{topic}[/] {cls.name}  [dim]({plugin_of(pm, cls)})[/]"
            print_table(_field_table(title, _fields(cls.Config), caption))


def plugins(plugin: PluginOpt = None) -> None:
    """List every plugin: its distribution and version, the components and commands it adds; broken ones too."""
    from editrl.plugin_manager import build_registry, get_plugin_manager, plugin_commands, plugin_of

    broken = []
    with user_errors():
        pm = get_plugin_manager(extra_modules=plugin or [], broken=broken)
        registry = build_registry(pm)
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    commands = plugin_commands(pm)
    table = Table(title="editrl plugins", box=box.SIMPLE_HEAD)  # no side borders: fits 80 columns unwrapped
    name_column(table, "plugin")
    table.add_column("distribution")
    name_column(table, "commands")
    name_column(table, "components")
    rows = []
    for name, module in pm.list_name_plugin():
        dist = dists.get(id(module))
        comps = [f"{c.kind}:{c.name}" for c in registry if plugin_of(pm, c) == name]
        rows.append((
            name, f"{dist.project_name} {dist.version}" if dist else "(local module)",
            "\n".join(commands.get(name, [])) or "-", "\n".join(comps) or "-",
        ))
    for b in broken:
        rows.append((b.name, f"{b.distribution} {b.version}", "-", f"[red]broken:[/] {escape(b.reason)}"))
    for row in sorted(rows):
        table.add_row(*row)
        table.add_section()
    print_table(table)
    if broken:
        from editrl.plugin_manager import DISABLE_ENV

        names = ",".join(b.name for b in broken)
        console.print(
            f"{len(broken)} plugin(s) failed to load; reinstall, or skip with {DISABLE_ENV}={names}", highlight=False
        )


def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the schema here instead of stdout.")] = None,
    plugin: PluginOpt = None,
    bench: Annotated[bool, typer.Option("--bench", help="The schema of bench files (`editrl bench`) instead.")] = False,
) -> None:
    """Print the JSON Schema of recipes (for editor auto-complete), built from the registered components.

    Example: editrl schema -o recipe.schema.json, then add
    `# yaml-language-server: $schema=recipe.schema.json` at the top of a recipe.
    """
    from editrl.config import build_recipe_model

    with user_errors():
        _, registry = _registry(plugin)
    if bench:
        from editrl.bench.spec import BenchSpec

        text = json.dumps(BenchSpec.model_json_schema(), indent=2)
    else:
        text = json.dumps(build_recipe_model(registry).model_json_schema(), indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n")
        console.print(f"wrote {output}")
