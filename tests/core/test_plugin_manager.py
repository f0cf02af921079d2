"""Plugin discovery: a third-party distribution registers exactly like the builtins do."""

import textwrap

import pytest
from tests_support import FAKE_PLUGIN

from editrl.errors import EditrlError
from editrl.plugin_manager import build_registry, get_plugin_manager, plugin_commands, plugin_of

def test_builtins_are_entry_points():
    pm = get_plugin_manager()
    names = {name for name, _ in pm.list_name_plugin()}
    assert {"solvers", "neighbor_grpo", "pixel", "toy"} <= names
    dists = {d.project_name for _, d in pm.list_plugin_distinfo()}
    assert "editrl" in dists


def test_every_builtin_package_is_declared_as_an_entry_point():
    import pathlib
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[2]
    declared = set(tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]["editrl"].values())
    packages = {p.name for p in (root / "plugins").iterdir() if (p / "__init__.py").is_file()}
    assert packages == declared


def test_third_party_distribution_is_discovered(fake_distribution):
    pm = get_plugin_manager()
    registry = build_registry(pm)
    cls = registry.get("reward", "brightness")
    assert plugin_of(pm, cls) == "vlm"
    assert ("fake-editrl-vlm", "0.1") in {(d.project_name, d.version) for _, d in pm.list_plugin_distinfo()}


def test_blocking_a_plugin(fake_distribution, monkeypatch):
    registry = build_registry(get_plugin_manager(blocked=["vlm"]))
    assert "brightness" not in registry.names("reward")
    monkeypatch.setenv("EDITRL_DISABLE_PLUGINS", "vlm")
    assert "brightness" not in build_registry(get_plugin_manager()).names("reward")


def test_local_module_plugin(tmp_path, monkeypatch):
    (tmp_path / "my_local_rewards.py").write_text(FAKE_PLUGIN.replace('"brightness"', '"local_brightness"'))
    monkeypatch.chdir(tmp_path)
    registry = build_registry(get_plugin_manager(extra_modules=["my_local_rewards"]))
    assert "local_brightness" in registry.names("reward")
    with pytest.raises(EditrlError, match="cannot import local plugin module 'no_such_module'"):
        get_plugin_manager(extra_modules=["no_such_module"])


def test_hook_without_spec_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "typo_plugin.py").write_text(textwrap.dedent('''
        from editrl import hookimpl

        @hookimpl
        def editrl_register_component(registry):
            pass
    '''))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EditrlError, match="unknown hook 'editrl_register_component'"):
        get_plugin_manager(extra_modules=["typo_plugin"])


def test_a_plugin_that_fails_to_import_is_named(fake_distribution):
    (fake_distribution / "fake_editrl_vlm.py").write_text("import no_such_dependency_of_the_plugin\n")
    with pytest.raises(EditrlError, match=r"'vlm' .*failed to load: ModuleNotFoundError.*EDITRL_DISABLE_PLUGINS=vlm"):
        get_plugin_manager()
    pm = get_plugin_manager(blocked=["vlm"])  # the way out the message names
    assert pm.get_plugin("vlm") is None and pm.get_plugin("toy") is not None


def test_editrl_plugins_lists_a_broken_plugin_with_the_reason(cli, fake_distribution):
    (fake_distribution / "fake_editrl_vlm.py").write_text("import no_such_dependency_of_the_plugin\n")
    listing = cli("plugins")
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if line.strip().startswith("vlm "))
    assert "fake-editrl-vlm 0.1" in row
    assert "broken: ModuleNotFoundError: No module named 'no_such_dependency_of_the_plugin'" in row
    assert "toy_editor" in listing.output  # the others are listed as usual
    assert "EDITRL_DISABLE_PLUGINS=vlm" in listing.output
    # every other command keeps refusing to run with it, naming it and the way out
    other = cli("ls", "reward")
    assert other.exit_code == 2 and "'vlm'" in other.output and "EDITRL_DISABLE_PLUGINS=vlm" in other.output


def test_plugin_commands_are_listed_by_plugin():
    assert plugin_commands(get_plugin_manager())["toy"] == ["toy"]
