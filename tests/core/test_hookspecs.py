"""Every hook in ``editrl.hookspecs`` is documented and exercised, as pytest checks its own hooks.

A plugin implementing every hook is installed (a distribution with an ``editrl`` entry point on the path); the real
CLI then runs its command and a two-step toy run, and each hook must have been called. A new hookspec fails here
until the test plugin implements it and the engine or CLI calls it.
"""

from __future__ import annotations

import inspect
import re
import sys

import pytest

from editrl import hookspecs
from tests_support import TINY, TOY_RECIPE, write_distribution

SPECS = {
    name: fn for name, fn in vars(hookspecs).items()
    if callable(fn) and getattr(fn, "editrl_spec", None) is not None
}

PLUGIN = '''
from editrl import hookimpl

CALLS = []


@hookimpl
def editrl_register_components(registry):
    CALLS.append(("editrl_register_components", type(registry).__name__))


@hookimpl
def editrl_register_commands(app):
    CALLS.append(("editrl_register_commands", type(app).__name__))

    @app.command("hooktest")
    def hooktest():
        """A command added by a plugin."""
        print("hooktest ran")


@hookimpl
def editrl_on_step_end(step, metrics, run_dir):
    CALLS.append(("editrl_on_step_end", (step, "loss" in metrics, run_dir.name)))
'''


@pytest.fixture
def hook_plugin(tmp_path, monkeypatch):
    """The plugin above, installed as distribution ``editrl-hooktest`` with entry point ``hooktest``."""
    write_distribution(tmp_path, "editrl_hooktest", PLUGIN, "editrl-hooktest", "hooktest")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("editrl_hooktest", None)


def test_hookspecs_are_found():
    assert set(SPECS) >= {"editrl_register_components", "editrl_register_commands", "editrl_on_step_end"}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hookspec_is_documented(name):
    fn = SPECS[name]
    doc = inspect.getdoc(fn) or ""
    assert name.startswith("editrl_"), "hooks are prefixed editrl_"
    assert doc.split("\n\n")[0].strip(), f"{name} has no summary line"
    params = list(inspect.signature(fn).parameters)
    documented = re.findall(r":param (\w+):", doc)
    assert documented == params, f"{name}: document each parameter, in order, as ':param NAME: ...' ({params})"


def test_every_hookspec_is_exercised(cli, hook_plugin, tmp_path):
    import editrl_hooktest

    implemented = {n for n in vars(editrl_hooktest) if n.startswith("editrl_")}
    assert implemented == set(SPECS), "the test plugin must implement every hookspec (add the new one to PLUGIN)"
    # the plugin's command runs through the real CLI (plugin commands load on first use)
    result = cli("hooktest")
    assert result.exit_code == 0, result.output
    assert "hooktest ran" in result.output
    # a two-step toy run: components registered, and the step hook called after each step with its metrics
    out = tmp_path / "run"
    result = cli("run", TOY_RECIPE, *TINY, "train.steps=2", "eval.at_end=false", f"output_dir={out}")
    assert result.exit_code == 0, result.output
    calls = editrl_hooktest.CALLS
    called = {name for name, _ in calls}
    assert called == set(SPECS), f"never called: {sorted(set(SPECS) - called)}"
    assert ("editrl_register_components", "Registry") in calls
    assert [arg for name, arg in calls if name == "editrl_on_step_end"] == [(1, True, "run"), (2, True, "run")]
