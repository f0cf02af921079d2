"""Shared fixtures: the CLI runner and a shrunken toy recipe for end-to-end runs."""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning makes torch 10–20× slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import pytest
import torch
from typer.testing import CliRunner

from tests_support import FAKE_PLUGIN, write_distribution

@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """An installed distribution ``fake-editrl-vlm 0.1`` declaring ``[editrl] vlm = fake_editrl_vlm``."""
    write_distribution(tmp_path, "fake_editrl_vlm", FAKE_PLUGIN, "fake-editrl-vlm", "vlm")
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
