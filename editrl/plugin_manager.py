"""Builds the plugin manager and the registry. Nothing here runs at import time."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

from editrl import hookspecs
from editrl.errors import EditrlError
from editrl.registry import Registry

ENTRY_POINT_GROUP = "editrl"
DISABLE_ENV = "EDITRL_DISABLE_PLUGINS"


@dataclass(frozen=True)
class BrokenPlugin:
    """An installed plugin whose entry point failed to load (listed by ``editrl plugins`` instead of failing)."""

    name: str
    distribution: str
    version: str
    reason: str


def get_plugin_manager(
    *,
    entrypoints: bool = True,
    extra_modules: Iterable[str] = (),
    blocked: Iterable[str] = (),
    broken: list[BrokenPlugin] | None = None,
) -> pluggy.PluginManager:
    """Return a plugin manager with the installed ``editrl`` entry points and local modules registered.

    Args:
        entrypoints: load plugins declared under the ``editrl`` entry-point group (builtins included).
        extra_modules: importable module names to register too (``-p mod`` or a recipe's ``plugins:``);
            imported with the current directory on ``sys.path``.
        blocked: plugin names (entry-point names or module names) not to load; ``EDITRL_DISABLE_PLUGINS=a,b``
            adds to these.
        broken: when given, an installed plugin that fails to load is appended here and skipped; otherwise it is
            an :class:`EditrlError` naming it and the way to skip it.
    """
    pm = pluggy.PluginManager("editrl")
    pm.add_hookspecs(hookspecs)
    env_blocked = [b.strip() for b in os.environ.get(DISABLE_ENV, "").split(",") if b.strip()]
    for name in [*blocked, *env_blocked]:
        pm.set_blocked(name)
    if entrypoints:
        _load_entry_points(pm, broken)
    if extra_modules:
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
    for mod_name in extra_modules:
        if pm.is_blocked(mod_name) or pm.has_plugin(mod_name):
            continue
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise EditrlError(f"plugins: cannot import local plugin module {mod_name!r}: {exc}") from None
        if not pm.is_registered(module):  # an installed plugin named again as a local module is loaded once
            pm.register(module, mod_name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise EditrlError(f"plugins: {exc} (hooks are named in editrl.hookspecs)") from None
    if os.environ.get("EDITRL_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()
    return pm


def _load_entry_points(pm: pluggy.PluginManager, broken: list[BrokenPlugin] | None) -> None:
    """Load the ``editrl`` entry points one name at a time, so that a plugin that fails to import is named.

    pluggy's loader does the loading (it also records each plugin's distribution for ``editrl plugins``).
    """
    points = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    for name in sorted(points):
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
        except Exception as exc:  # any import-time failure of third-party code
            reason = f"{type(exc).__name__}: {exc}"
            if broken is None:
                raise EditrlError(
                    f"plugins: the installed plugin {name!r} (entry point group {ENTRY_POINT_GROUP!r}) failed to "
                    f"load: {reason}. Reinstall it, or skip it with {DISABLE_ENV}={name}"
                ) from None
            dist = points[name].dist
            broken.append(BrokenPlugin(name, dist.name if dist else "?", dist.version if dist else "-", reason))


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Ask every plugin to register its components and return the filled registry."""
    registry = Registry()
    pm.hook.editrl_register_components(registry=registry)
    return registry


def plugin_commands(pm: pluggy.PluginManager) -> dict[str, list[str]]:
    """The CLI commands each plugin adds (its ``editrl_register_commands``, run on a scratch app), by plugin name."""
    import typer

    everyone = [plugin for _, plugin in pm.list_name_plugin()]
    out: dict[str, list[str]] = {}
    for impl in pm.hook.editrl_register_commands.get_hookimpls():
        scratch = typer.Typer()
        others = [p for p in everyone if p is not impl.plugin]
        pm.subset_hook_caller("editrl_register_commands", remove_plugins=others)(app=scratch)
        names = [c.name or c.callback.__name__.replace("_", "-") for c in scratch.registered_commands]
        names += [g.name or g.typer_instance.info.name for g in scratch.registered_groups]
        out[impl.plugin_name] = sorted(n for n in names if n)
    return out


def plugin_of(pm: pluggy.PluginManager, cls: type) -> str:
    """The name of the registered plugin whose module defines ``cls`` (for listings)."""
    module = cls.__module__
    best = ""
    for name, plugin in pm.list_name_plugin():
        mod = getattr(plugin, "__name__", "")
        if mod and (module == mod or module.startswith(mod + ".")) and len(mod) > len(best):
            best = name
    return best or module.split(".")[0]
