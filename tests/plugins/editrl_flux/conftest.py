"""Fixtures of the FLUX.1 Kontext backbone tests: a tiny random Kontext pipeline saved to a temporary folder (built
offline, once per session) and loaded through the plugin's real loading path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: make flux_helpers importable
from flux_helpers import make_backbone  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from editrl_flux.tiny import build_tiny_kontext

    directory = tmp_path_factory.mktemp("tiny_kontext")
    build_tiny_kontext(directory)
    return directory


@pytest.fixture(scope="session")
def backbone(tiny_dir):
    """Loaded once, never given LoRA (tests that attach LoRA make their own)."""
    return make_backbone(tiny_dir)


@pytest.fixture(scope="session")
def pipe(tiny_dir):
    from diffusers import FluxKontextPipeline

    p = FluxKontextPipeline.from_pretrained(str(tiny_dir))
    p.set_progress_bar_config(disable=True)
    return p


@pytest.fixture(autouse=True)
def _one_thread():
    """The tiny model's ops are microseconds long: intra-op threads only add overhead (40× on a busy 2-core box)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
