"""Reading recipe YAML and applying ``key=value`` overrides (dotted keys, list indices, ``~key`` deletion)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from editrl.errors import RecipeError


class OverrideError(RecipeError):
    """A ``key=value`` override on the command line is malformed; the problem names the override."""

    def __init__(self, override: str, problem: str) -> None:
        super().__init__("overrides", [f"{override!r}: {problem}"])


def load_recipe_dict(path: str | Path) -> dict[str, Any]:
    """Read a recipe file into a dict. Missing files and malformed YAML raise :class:`RecipeError`."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(str(path), [f"recipe file not found: {path}"])
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError(str(path), [f"malformed YAML: {where}{problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecipeError(str(path), [f"the top level must be a mapping of sections, got {type(data).__name__}"])
    return data


def _parse_key(key: str, override: str) -> list[str | int]:
    if not key or any(not part for part in key.split(".")):
        raise OverrideError(override, "expected key=value with a dotted key such as train.steps=10")
    return [int(p) if p.lstrip("-").isdigit() else p for p in key.split(".")]


def _descend(node: Any, path: list[str | int], override: str, *, create: bool) -> Any:
    for depth, part in enumerate(path):
        where = ".".join(map(str, path[: depth + 1]))
        if isinstance(node, list):
            if not isinstance(part, int) or not -len(node) <= part < len(node):
                raise OverrideError(override, f"{where} is not an index of a list of {len(node)}")
            node = node[part]
        elif isinstance(node, dict):
            if part not in node:
                if not create:
                    raise OverrideError(override, f"{where} is not in the recipe")
                node[part] = {}
            node = node[part]
        else:
            raise OverrideError(override, f"{where} is inside a {type(node).__name__}, not a section")
    return node


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply overrides in order; the command line wins over the file.

    ``a.b=1`` sets (values parsed as YAML: ``1`` int, ``0.5`` float, ``true`` bool, ``[1, 2]`` list, ``null``),
    ``rewards.0.weight=2`` indexes a list, ``rewards.2={type: x}`` appends when the index equals the list's length,
    ``~a.b`` deletes. Setting a component's ``type`` to another one (``exploration.type=iid``) replaces the whole
    section with ``{type: iid}``: the old component's fields are not the new one's. Later overrides of the same
    command apply on top (``exploration.type=iid exploration.sigma=0.5``).
    """
    for override in overrides:
        if override.startswith("~"):
            path = _parse_key(override[1:], override)
            parent = _descend(data, path[:-1], override, create=False)
            last = path[-1]
            try:
                del parent[last]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                raise OverrideError(override, f"nothing to delete at {override[1:]}") from None
            continue
        if "=" not in override:
            raise OverrideError(override, "expected key=value (e.g. train.steps=10) or ~key")
        key, raw = override.split("=", 1)
        path = _parse_key(key.strip(), override)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parent = _descend(data, path[:-1], override, create=True)
        last = path[-1]
        if isinstance(parent, list):
            if isinstance(last, int) and last == len(parent):
                parent.append(value)
            elif isinstance(last, int) and -len(parent) <= last < len(parent):
                parent[last] = value
            else:
                raise OverrideError(override, f"{key} is not an index of a list of {len(parent)}")
        elif isinstance(parent, dict):
            if last == "type" and "type" in parent and parent["type"] != value:
                parent.clear()  # another component: none of the old one's fields carry over
            parent[last] = value
        else:
            raise OverrideError(override, f"cannot set a key inside a {type(parent).__name__}")
    return data
