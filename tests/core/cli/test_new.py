"""``editrl new KIND NAME -o DIR``: the scaffolded package installs (a real pip install into a separate folder, the
current environment untouched), passes its own tests unchanged, and ``editrl ls`` lists its component."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: Kinds whose package is installed and tested in the default run (about 20 s of CPU each); the rest are slow.
ALWAYS = ("reward", "exploration")
KINDS = ("reward", "exploration", "policy", "regularizer", "optimizer", "backbone", "dataset", "solver")


def _env(site) -> dict[str, str]:
    env = dict(os.environ, COLUMNS="200", OMP_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _run(args, cwd, env, timeout=600):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "kind", [k if k in ALWAYS else pytest.param(k, marks=pytest.mark.slow) for k in KINDS]
)
def test_scaffolded_package_installs_and_passes_its_tests(cli, tmp_path, kind):
    name = f"scaffolded_{kind}"
    pkg, site = tmp_path / "pkg", tmp_path / "site"
    result = cli("new", kind, name, "-o", pkg)
    assert result.exit_code == 0, result.output
    assert (pkg / "src" / f"editrl_{name}" / f"{kind}.py").is_file()
    assert f'{name} = "editrl_{name}"' in (pkg / "pyproject.toml").read_text()
    env = _env(site)
    install = _run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(pkg)], tmp_path, env,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (site / f"editrl_{name}" / f"{kind}.py").is_file()
    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], pkg, env)
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "2 passed" in tests.stdout
    listed = _run([sys.executable, "-m", "editrl", "ls", kind], tmp_path, env)
    assert listed.returncode == 0, listed.stderr
    assert name in listed.stdout


def test_bad_input_is_refused_with_exit_code_2(cli, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    cases = [
        (("new", "reward", "fine_name", "-o", full), "already exists and is not an empty folder"),
        (("new", "reward", "Bad-Name", "-o", tmp_path / "a"), "'Bad-Name' is not a valid component name"),
        (("new", "reward", "class", "-o", tmp_path / "b"), "'class' is not a valid component name"),
        (("new", "rewardz", "fine_name", "-o", tmp_path / "c"), "'rewardz' is not a component kind"),
        (("new", "reward", "toy_judge", "-o", tmp_path / "d"), "a reward called 'toy_judge' is already registered"),
        (("new", "reward", "toy", "-o", tmp_path / "e"), "already called 'toy'"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
        assert "Traceback" not in result.output
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    assert not any((tmp_path / d).exists() for d in "abcde")


def test_an_empty_output_folder_is_used(cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("new", "solver", "my_midpoint", "-o", empty)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in empty.iterdir()) == ["README.md", "pyproject.toml", "src", "tests"]
    assert "solver: {type: my_midpoint, steps: 8}" in (empty / "README.md").read_text()
