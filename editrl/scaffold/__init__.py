"""``editrl new KIND NAME``: a plugin package with one working component, its entry point and a contract test.

The files come from ``templates/`` (package data): ``pyproject.toml``, ``README.md``, the package's ``__init__.py``
(the registration hook) and the test are shared by every kind; ``templates/component/<kind>.py.tmpl`` is the
component. Templates are :class:`string.Template` texts (``$name``, ``$cls``, ...).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from editrl.errors import EditrlError

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")

#: How a recipe names a component of each kind (for the README); every kind with a template is listed.
RECIPE_LINES = {
    "backbone": "backbone: {type: $name}",
    "dataset": "dataset: {type: $name}",
    "exploration": "exploration: {type: $name, group_size: 8}",
    "solver": "solver: {type: $name, steps: 8}",
    "policy": "policy: {type: $name}",
    "reward": "rewards:\n  - {type: $name, weight: 1.0}",
    "regularizer": "regularizers:\n  - {type: $name, coef: 0.01}",
    "optimizer": "optimizer: {type: $name}",
}


@dataclass(frozen=True)
class Plan:
    """What ``editrl new`` writes: ``files`` maps paths relative to ``root`` to their text."""

    root: Path
    files: dict[str, str]


def plan(kind: str, name: str, directory: Path) -> Plan:
    """Check the request and render every file (nothing is written). :class:`EditrlError` on bad input.

    1. ``kind`` has a template; 2. ``name`` is a lowercase identifier; 3. ``directory`` is absent or empty;
    4. render the templates.
    """
    # step 1
    if kind not in RECIPE_LINES:
        raise EditrlError(f"kind: {kind!r} is not a component kind; expected one of: {', '.join(RECIPE_LINES)}")
    # step 2
    if not NAME_PATTERN.fullmatch(name) or keyword.iskeyword(name):
        raise EditrlError(
            f"name: {name!r} is not a valid component name; expected a lowercase Python identifier of at most 40 "
            "characters (letters, digits, underscores, starting with a letter), e.g. my_reward"
        )
    # step 3
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise EditrlError(f"-o/--output: {directory} already exists and is not an empty folder; choose another")
    # step 4
    package = f"editrl_{name}"
    cls = "".join(part.capitalize() for part in name.split("_") if part)
    values = {
        "name": name, "kind": kind, "package": package, "cls": cls, "distribution": f"editrl-{name.replace('_', '-')}",
    }
    component = _render(f"component/{kind}.py.tmpl", values)
    values["summary"] = _summary(component)
    values["recipe"] = Template(RECIPE_LINES[kind]).substitute(values)
    files = {
        "pyproject.toml": _render("pyproject.toml.tmpl", values),
        "README.md": _render("README.md.tmpl", values),
        f"src/{package}/__init__.py": _render("init.py.tmpl", values),
        f"src/{package}/{kind}.py": component,
        f"tests/test_{name}.py": _render("test.py.tmpl", values),
    }
    return Plan(root=directory, files=files)


def refuse_taken_names(kind: str, name: str) -> None:
    """:class:`EditrlError` if an installed plugin already registers ``name`` for ``kind`` or uses it as its entry
    point name (the new package could not be loaded next to it)."""
    import importlib.metadata

    from editrl.plugin_manager import ENTRY_POINT_GROUP, build_registry, get_plugin_manager

    taken = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in taken:
        raise EditrlError(f"name: an installed editrl plugin is already called {name!r}; choose another name")
    if name in build_registry(get_plugin_manager()).names(kind):
        raise EditrlError(f"name: a {kind} called {name!r} is already registered (see `editrl ls {kind}`)")


def write(p: Plan) -> list[Path]:
    """Write the planned files; returns their paths."""
    written = []
    for relative, text in p.files.items():
        path = p.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _render(template: str, values: dict[str, str]) -> str:
    text = resources.files("editrl.scaffold").joinpath("templates", *template.split("/")).read_text()
    return Template(text).substitute(values)


def _summary(module_text: str) -> str:
    """The first line of the component module's docstring, after its backticked name."""
    first = module_text.split('"""')[1].strip().splitlines()[0]
    return first.split(": ", 1)[-1]
