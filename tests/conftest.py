"""Shared fixtures: the CLI runner and a shrunken toy recipe for end-to-end runs."""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning makes torch 10–20× slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import pytest
import torch
from typer.testing import CliRunner

from tests_support import FAKE_PLUGIN

@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """An installed distribution ``fake-editrl-vlm 0.1`` declaring ``[editrl] vlm = fake_editrl_vlm``."""
    (tmp_path / "fake_editrl_vlm.py").write_text(FAKE_PLUGIN)
    info = tmp_path / "fake_editrl_vlm-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-editrl-vlm\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[editrl]\nvlm = fake_editrl_vlm\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    import sys

    sys.modules.pop("fake_editrl_vlm", None)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture
def cli():
    """Invoke the real ``editrl`` Typer app in-process."""
    from editrl.cli import build_app

    app = build_app()
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
